"""The local stack: Kafka, Mosquitto and TimescaleDB, started natively or with Docker."""
