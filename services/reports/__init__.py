"""Auditors' reports: statistics, the report model, its PDF layout and the database adapter."""
