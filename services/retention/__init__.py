"""Retention: old chunks dropped on the application's own schedule; compression on the full build only."""
