"""Kafka -> alert intake: ``coldchain.excursions`` and ``coldchain.eta`` into the outbox.

At least once, made exactly once by the outbox: a record's offset is committed only after
its alerts are stored (``AlertIntake`` writes are idempotent, so a replay after a crash
changes nothing) and the feed events it raised are confirmed by the broker.

A record that cannot be handled yet (its shipment is not in the registry, or the database
is away) holds back only its own partition: the consumer seeks back to it, pauses the
partition and tries again later. A record that can never be handled (unreadable, a bug in
a handler, a shipment that never appears) is logged, counted and skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError, KafkaException, Message, TopicPartition
from pydantic import BaseModel, ValidationError

from schemas.alert import AlertEvent
from schemas.eta import EtaUpdate
from schemas.excursion import ExcursionEvent
from schemas.shipment import Shipment
from schemas.topics import ETA, EXCURSIONS
from services.alerts.feed import AlertFeed
from services.alerts.intake import AlertIntake
from services.alerts.shipment_lookup import ShipmentLookup

log = logging.getLogger(__name__)

Partition = tuple[str, int]
Handler = Callable[[Any, Shipment], Awaitable[list[AlertEvent]]]


@dataclass(frozen=True)
class ConsumerConfig:
    group_id: str
    batch: int = 100
    poll_timeout_s: float = 0.5
    retry_after_s: float = 2.0
    unknown_shipment_grace_s: float = 30.0
    session_timeout_ms: int = 10_000


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


@dataclass(frozen=True)
class _TopicHandler:
    model: type[BaseModel]
    handle: Handler


@dataclass
class _Batch:
    done: dict[Partition, int] = field(default_factory=dict)  # highest handled offset
    held: set[Partition] = field(default_factory=set)


class AlertConsumer:
    def __init__(
        self,
        client_config: dict[str, Any],
        config: ConsumerConfig,
        intake: AlertIntake,
        shipments: ShipmentLookup,
        feed: AlertFeed,
    ) -> None:
        self._client_config = client_config
        self._config = config
        self._shipments = shipments
        self._feed = feed
        self._routes = {
            EXCURSIONS.name: _TopicHandler(ExcursionEvent, intake.on_excursion),
            ETA.name: _TopicHandler(EtaUpdate, intake.on_eta),
        }
        self._consumer: Consumer | None = None
        self._paused: dict[Partition, float] = {}  # partition -> monotonic time to resume
        # shipment id -> when it was first found missing (monotonic), so that once its grace
        # has run out, its further records are skipped at once instead of each waiting again
        self._missing: dict[str, float] = {}
        self.counts = ConsumerCounts()

    def start(self) -> None:
        consumer = Consumer(
            {
                **self._client_config,
                "group.id": self._config.group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",  # a new group must not miss what came before it
                "session.timeout.ms": self._config.session_timeout_ms,
            }
        )
        consumer.subscribe(list(self._routes), on_assign=self._on_assign, on_revoke=self._on_revoke)
        self._consumer = consumer

    def assigned(self) -> bool:
        """Partitions assigned to it (for /readyz)."""
        return self._consumer is not None and bool(self._consumer.assignment())

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        log.info("alert consumer closed: %s", self.counts.summary())

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self._require()
        while not stop.is_set():
            self._resume_due(consumer)
            messages = await asyncio.to_thread(_fetch, consumer, self._config.batch, self._config.poll_timeout_s)
            batch = _Batch()
            for message in messages:
                if stop.is_set():
                    break
                await self._take(consumer, message, batch)
            if batch.done:
                await self._commit(consumer, batch.done)

    async def _take(self, consumer: Consumer, message: Message, batch: _Batch) -> None:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error: %s", error)
            return
        partition: Partition = (str(message.topic()), int(message.partition() or 0))
        if partition in batch.held:
            return  # an earlier record of this partition waits: keep the order
        if await self._handle(message):
            batch.done[partition] = int(message.offset() or 0)
        else:
            batch.held.add(partition)
            self._hold(consumer, message, partition)

    async def _handle(self, message: Message) -> bool:
        """True when the record is finished with (handled or skipped), False to retry it."""
        topic = str(message.topic())
        route = self._routes[topic]
        self.counts.records += 1
        try:
            event = route.model.model_validate_json(message.value() or b"")
        except ValidationError as exc:
            self.counts.unreadable += 1
            log.error("unreadable record on %s[%s]@%s skipped: %s", topic, message.partition(), message.offset(), exc)
            return True
        shipment_id = str(getattr(event, "shipment_id"))  # noqa: B009 - both routed models have it
        try:
            shipment = await self._shipments.get(shipment_id)
            if shipment is None:
                return self._orphan(message, shipment_id)
            raised = await route.handle(event, shipment)
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
        if waited < self._config.unknown_shipment_grace_s:
            self.counts.retries += 1
            return False
        self.counts.orphans_skipped += 1
        log.warning("no shipment %r %.0f s after the record was written: %s[%s]@%s skipped", shipment_id,
                    waited, message.topic(), message.partition(), message.offset(), extra={"shipment_id": shipment_id})
        return True

    def _hold(self, consumer: Consumer, message: Message, partition: Partition) -> None:
        tp = TopicPartition(partition[0], partition[1])
        consumer.pause([tp])
        consumer.seek(TopicPartition(partition[0], partition[1], int(message.offset() or 0)))
        self._paused[partition] = time.monotonic() + self._config.retry_after_s

    def _resume_due(self, consumer: Consumer) -> None:
        now = time.monotonic()
        due = [p for p, at in self._paused.items() if at <= now]
        for partition in due:
            del self._paused[partition]
        if due:
            consumer.resume([TopicPartition(t, p) for t, p in due])

    async def _commit(self, consumer: Consumer, done: dict[Partition, int]) -> None:
        # The feed events of these records first: once committed they are not raised again.
        left = await self._feed.flush()
        if left:
            log.warning("%d alert feed events unconfirmed at commit", left)
        offsets = [TopicPartition(t, p, offset + 1) for (t, p), offset in done.items()]
        try:
            await asyncio.to_thread(consumer.commit, offsets=offsets, asynchronous=False)
        except KafkaException as exc:  # e.g. a rebalance: the records replay, harmlessly
            log.warning("offset commit failed (records will replay): %s", exc)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions assigned: %s", _names(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._paused.pop((tp.topic, tp.partition), None)
        log.info("partitions revoked: %s", _names(partitions))

    def _require(self) -> Consumer:
        if self._consumer is None:
            raise RuntimeError("AlertConsumer.start() was not called")
        return self._consumer


def _fetch(consumer: Consumer, batch: int, timeout_s: float) -> list[Message]:
    """The first record as soon as it arrives, with whatever is already queued behind it.

    ``Consumer.consume(n, timeout)`` waits until it has ``n`` records or the timeout ends,
    so a lone alert-worthy record would wait out the whole timeout.
    """
    first = consumer.poll(timeout_s)
    if first is None:
        return []
    return [first, *consumer.consume(batch - 1, 0)] if batch > 1 else [first]


def _age_s(message: Message) -> float:
    """Seconds since the record was written (its Kafka timestamp); 0 when it has none."""
    kind, millis = message.timestamp()
    if kind == TIMESTAMP_NOT_AVAILABLE or millis <= 0:
        return 0.0
    return max(0.0, time.time() - millis / 1000)


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "none"
