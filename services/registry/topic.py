"""Registrations onto the compacted ``coldchain.shipments`` topic, for the stream processors."""

from __future__ import annotations

import asyncio
import logging

from confluent_kafka import Producer

from schemas.shipment import Shipment
from schemas.topics import SHIPMENTS
from services.connections import KafkaSettings
from services.kafka.clients import new_producer
from services.registry.record import record_key, record_value

log = logging.getLogger(__name__)


class ShipmentPublisher:
    """Copies registrations onto the compacted ``coldchain.shipments`` topic."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._producer: Producer | None = None

    @property
    def started(self) -> bool:
        return self._producer is not None

    def start(self) -> None:
        self._producer = new_producer(self.settings)

    async def publish(self, shipments: list[Shipment]) -> None:
        # flush() blocks until Kafka confirms: in a thread, so the event loop keeps serving.
        await asyncio.to_thread(self._publish, shipments)

    def _publish(self, shipments: list[Shipment]) -> None:
        assert self._producer is not None
        for shipment in shipments:
            self._producer.produce(SHIPMENTS.name, key=record_key(shipment), value=record_value(shipment))
        remaining = self._producer.flush(10)
        if remaining:
            log.error("%d shipment records not confirmed by Kafka", remaining)

    def stop(self) -> None:
        if self._producer is not None:
            self._producer.flush(5)
