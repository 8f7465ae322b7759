"""The alert service: excursion and ETA events -> policy -> outbox -> email and SMS."""
