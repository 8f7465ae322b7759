"""``AlertEvent``s onto ``coldchain.alerts`` (keyed by shipment id) for the live feed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from confluent_kafka import KafkaError, Message, Producer

from schemas.alert import AlertEvent
from schemas.topics import ALERTS
from services.connections import KafkaSettings
from services.kafka.clients import new_producer

log = logging.getLogger(__name__)


class AlertFeed:
    def __init__(self, kafka: KafkaSettings) -> None:
        self._kafka = kafka
        self._producer: Producer | None = None

    def start(self) -> None:
        self._producer = new_producer(self._kafka)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(5)
            self._producer = None

    def publish(self, events: Iterable[AlertEvent]) -> None:
        producer = self._require()
        for event in events:
            producer.produce(
                ALERTS.name,
                key=event.shipment_id.encode(),
                value=event.model_dump_json().encode(),
                on_delivery=_report,
            )
        producer.poll(0)

    async def publish_event(self, event: AlertEvent) -> None:
        """The dispatcher's event sink (delivery states): fire and forget."""
        self.publish([event])

    async def flush(self, timeout_s: float = 10.0) -> int:
        """Waits for the broker to confirm what was published; returns what is left."""
        producer = self._require()
        return int(await asyncio.to_thread(producer.flush, timeout_s))

    def _require(self) -> Producer:
        if self._producer is None:
            raise RuntimeError("AlertFeed.start() was not called")
        return self._producer


def _report(error: KafkaError | None, message: Message) -> None:
    if error is not None:
        log.warning("alert event not written to %s: %s", message.topic(), error)
