"""Ingest: MQTT telemetry -> validated, bound readings on Kafka; refusals to the dead-letter topic."""
