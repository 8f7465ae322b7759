"""Delivery channels: one class per provider, each behind the ``Channel`` interface."""
