"""Registrations onto the compacted ``coldchain.shipments`` topic, for the stream processors."""

from __future__ import annotations

import asyncio
import logging

from confluent_kafka import Producer

from schemas.shipment import Shipment
from schemas.topics import SHIPMENTS
from services.api.settings import ApiSettings

log = logging.getLogger(__name__)


class ShipmentPublisher:
    """Copies registrations onto the compacted ``coldchain.shipments`` topic."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self._producer: Producer | None = None

    @property
    def started(self) -> bool:
        return self._producer is not None

    def start(self) -> None:
        self._producer = Producer(self.settings.kafka_client_config(**{"enable.idempotence": True, "acks": "all"}))

    async def publish(self, shipments: list[Shipment]) -> None:
        # flush() blocks until Kafka confirms: in a thread, so the event loop keeps serving.
        await asyncio.to_thread(self._publish, shipments)

    def _publish(self, shipments: list[Shipment]) -> None:
        assert self._producer is not None
        for shipment in shipments:
            self._producer.produce(SHIPMENTS.name, key=shipment.id.encode(),
                                   value=shipment.model_dump_json().encode())
        remaining = self._producer.flush(10)
        if remaining:
            log.error("%d shipment records not confirmed by Kafka", remaining)

    def stop(self) -> None:
        if self._producer is not None:
            self._producer.flush(5)
