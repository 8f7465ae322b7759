"""Kafka client configuration and topic administration, shared by every service."""
