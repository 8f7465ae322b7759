"""Prometheus metrics of ingest, one registry per process (passed down, not global)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter


@dataclass
class IngestMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.received = Counter("coldchain_ingest_messages_received", "MQTT messages received", registry=self.registry)
        self.accepted = Counter("coldchain_ingest_readings_accepted", "Readings accepted", registry=self.registry)
        self.refused = Counter("coldchain_ingest_refused", "Refused payloads or batch elements, by rule",
                               ["rule"], registry=self.registry)
        self.produced = Counter("coldchain_ingest_records_produced", "Kafka records confirmed", ["topic"],
                                registry=self.registry)
        self.produce_errors = Counter("coldchain_ingest_produce_errors", "Kafka delivery failures",
                                      registry=self.registry)
