"""The HTTP API (contract section 2) and the ops dashboard."""
