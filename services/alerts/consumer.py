"""Kafka -> alert intake: ``coldchain.excursions`` and ``coldchain.eta`` into the outbox, as
the consumer loop's handler (services/kafka/consumer_loop.py).

At least once, made exactly once by the outbox: a record's offset is committed only after
its alerts are stored (``AlertIntake`` writes are idempotent, so a replay after a crash
changes nothing) and the feed events it raised are confirmed by the broker.

A record that cannot be handled yet (its shipment is not in the registry, or the database
is away) holds back only its own partition: the loop seeks back to it, pauses the
partition and tries again later. A record that can never be handled (unreadable, a bug in
a handler, a shipment that never appears) is logged, counted and skipped.

The registry is asked for a record's shipment only when the record could alert anyone
(``AlertIntake`` says so from the record alone): most ETA updates are finished with at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message
from pydantic import BaseModel

from schemas.eta import EtaUpdate
from schemas.excursion import ExcursionEvent
from schemas.topics import ETA, EXCURSIONS
from services.alerts.feed import AlertFeed
from services.alerts.intake import AlertIntake
from services.alerts.trigger import AlertTrigger
from services.kafka.consumer_loop import Batch, Progress, Record
from services.registry.postgres import ShipmentLookup

log = logging.getLogger(__name__)

Triage = Callable[[Any], list[AlertTrigger]]  # what a record could alert anyone of (pure)


@dataclass
class ConsumerCounts:
    """What the consumer did since it started (logged; "log, count, go on")."""

    records: int = 0
    alerts_raised: int = 0
    unreadable: int = 0
    handler_failures: int = 0
    orphans_skipped: int = 0
    retries: int = 0

    def summary(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in vars(self).items())


class AlertRecords:
    def __init__(self, intake: AlertIntake, shipments: ShipmentLookup, feed: AlertFeed,
                 unknown_shipment_grace_s: float = 30.0) -> None:
        self._intake = intake
        self._shipments = shipments
        self._feed = feed
        self._grace_s = unknown_shipment_grace_s
        self._triage: dict[str, Triage] = {EXCURSIONS.name: intake.excursion_triggers, ETA.name: intake.eta_triggers}
        self.topics: dict[str, type[BaseModel] | None] = {EXCURSIONS.name: ExcursionEvent, ETA.name: EtaUpdate}
        # shipment id -> when it was first found missing (monotonic), so that once its grace
        # has run out, its further records are skipped at once instead of each waiting again
        self._missing: dict[str, float] = {}
        self.counts = ConsumerCounts()

    async def handle(self, batch: Batch) -> Progress:
        progress = Progress()
        for unreadable in batch.unreadable:
            self.counts.records += 1
            self.counts.unreadable += 1
            message = unreadable.message
            log.error("unreadable record on %s[%s]@%s skipped: %s", message.topic(), message.partition(),
                      message.offset(), unreadable.error)
            progress.finish(message)
        for record in batch.records:
            if progress.is_held(record.partition):
                continue  # an earlier record of this partition waits: keep the order
            if await self._handle(record):
                progress.finish(record.message)
            else:
                progress.hold(record.message)
        return progress

    async def before_commit(self) -> None:
        # The feed events of these records first: once committed they are not raised again.
        left = await self._feed.flush()
        if left:
            log.warning("%d alert feed events unconfirmed at commit", left)

    async def _handle(self, record: Record) -> bool:
        """True when the record is finished with (handled or skipped), False to retry it."""
        message, event = record.message, record.value
        topic = str(message.topic())
        self.counts.records += 1
        shipment_id = str(getattr(event, "shipment_id"))  # noqa: B009 - both routed models have it
        try:
            triggers = self._triage[topic](event)
            if not triggers:  # nobody could be told of it: the registry need not be asked
                return True
            shipment = await self._shipments.get(shipment_id)
            if shipment is None:
                return self._orphan(message, shipment_id)
            raised = await self._intake.on_triggers(triggers, shipment)
        except psycopg.OperationalError as exc:  # the database is away: the record waits
            self.counts.retries += 1
            log.warning("database unavailable, %s[%s]@%s will be retried: %s",
                        topic, message.partition(), message.offset(), exc, extra={"shipment_id": shipment_id})
            return False
        except Exception:  # a bug on one record must not stop every record behind it
            self.counts.handler_failures += 1
            log.exception("alert handler failed on %s[%s]@%s; skipped", topic, message.partition(), message.offset(),
                          extra={"shipment_id": shipment_id})
            return True
        self._missing.pop(shipment_id, None)
        self.counts.alerts_raised += len(raised)
        if raised:
            self._feed.publish(raised)
            log.info("%s: %s", shipment_id, ", ".join(f"{e.kind} {e.step} {e.status}" for e in raised),
                     extra={"shipment_id": shipment_id})
        return True

    def _orphan(self, message: Message, shipment_id: str) -> bool:
        # The registry commits a shipment before the processors learn of it, so this is a
        # lagging replica or a record for a shipment that was never registered (or was
        # removed). The grace runs from when the record was written, not from when it is
        # read: a replayed backlog of old orphans is skipped at once instead of holding its
        # partition for the grace period each.
        now = time.monotonic()
        if len(self._missing) > 10_000:  # bounded: forget shipments missing for long
            self._missing = {k: v for k, v in self._missing.items() if now - v < 3600}
        first = self._missing.setdefault(shipment_id, now - _age_s(message))
        waited = now - first
        if waited < self._grace_s:
            self.counts.retries += 1
            return False
        self.counts.orphans_skipped += 1
        log.warning("no shipment %r %.0f s after the record was written: %s[%s]@%s skipped", shipment_id,
                    waited, message.topic(), message.partition(), message.offset(), extra={"shipment_id": shipment_id})
        return True


def _age_s(message: Message) -> float:
    """Seconds since the record was written (its Kafka timestamp); 0 when it has none."""
    kind, millis = message.timestamp()
    if kind == TIMESTAMP_NOT_AVAILABLE or millis <= 0:
        return 0.0
    return max(0.0, time.time() - millis / 1000)
