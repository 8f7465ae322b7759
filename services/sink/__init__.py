"""Sink: Kafka topics -> TimescaleDB, batched and idempotent; offsets committed after the database."""
