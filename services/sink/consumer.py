"""The sink loop: consume a batch, write it in one transaction, then commit the offsets.

A crash between the database commit and the offset commit replays the batch; the writers
are idempotent, so the replay changes nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import BaseModel, ValidationError

from schemas.deadletter import DeadLetter, FieldError, bounded_dead_letter
from services.logs import ids_of
from services.sink.settings import SinkSettings
from services.sink.writers import DeadLetterWriter

log = logging.getLogger(__name__)


class TableWriter(Protocol):
    def prepare(self, conn: psycopg.Connection) -> None: ...

    def write(self, conn: psycopg.Connection, items: Any) -> int: ...


@dataclass(frozen=True)
class Route:
    """Which model a topic carries and which writer stores it."""

    model: type[BaseModel]
    writer: TableWriter


@dataclass
class SinkMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.written = Counter("coldchain_sink_rows_written", "New rows", ["topic"], registry=self.registry)
        self.consumed = Counter("coldchain_sink_records_consumed", "Records consumed", ["topic"],
                                registry=self.registry)
        self.unreadable = Counter("coldchain_sink_records_unreadable", "Records that match no schema",
                                  ["topic"], registry=self.registry)
        self.refused = Counter("coldchain_sink_records_refused", "Records the database refused, kept as dead letters",
                               ["topic"], registry=self.registry)
        self.lag = Gauge("coldchain_sink_consumer_lag", "Records behind the log end", ["topic", "partition"],
                         registry=self.registry)


# A record's own content made the write fail (a value out of a column's range, a broken
# field); anything else (a lost connection, a missing table) is the database's, not the record's.
RECORD_ERRORS = (psycopg.DataError, psycopg.IntegrityError, ValueError)


@dataclass(frozen=True)
class _Item:
    topic: str
    record: BaseModel
    message: Message


def record_dead_letter(message: Message, rule: str, detail: str, device_id: str | None = None) -> DeadLetter:
    """A Kafka record the sink could not store, kept with the reason (stage: sink); the record
    itself stays on its topic, at the partition and offset the letter names."""
    topic = f"kafka:{message.topic()}/{message.partition()}@{message.offset()}"
    detail = detail.splitlines()[0] if detail else rule
    return bounded_dead_letter(stage="sink", topic=topic, payload=message.value() or b"",
                               errors=[FieldError(field="", rule=rule, message=detail)],
                               received_at=datetime.now(UTC), device_id=device_id)


def _chunks(records: list[Message], limit: int) -> list[list[Message]]:
    """Consecutive records of at most ``limit`` bytes of values (at least one record each): a
    consumed batch of readings is a few hundred to a few hundred thousand readings, and one
    transaction per chunk keeps each one's memory and duration bounded. Offsets are committed
    once after every chunk is stored."""
    chunks: list[list[Message]] = [[]]
    size = 0
    for record in records:
        length = len(record.value() or b"")
        if chunks[-1] and size + length > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(record)
        size += length
    return chunks


class Sink:
    def __init__(self, settings: SinkSettings, routes: Mapping[str, Route], metrics: SinkMetrics,
                 on_written: Callable[[str, int], None] | None = None) -> None:
        self._dead_letters = DeadLetterWriter()
        self.settings = settings
        self.routes = routes
        self.metrics = metrics
        self.on_written = on_written
        self._stop = threading.Event()
        self._consumer: Consumer | None = None
        self._conn: psycopg.Connection | None = None

    def start(self) -> None:
        self._connect()
        self._consumer = Consumer(self.settings.kafka_client_config(**{
            "group.id": self.settings.sink_group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            # A crashed sink's partitions go to the others after 10 s rather than librdkafka's 45 s.
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 2000,
            "statistics.interval.ms": 5000,
            "stats_cb": self._record_lag,
            "on_commit": self._committed,
        }))
        self._consumer.subscribe(list(self.routes))

    def stop(self) -> None:
        self._stop.set()

    def readiness(self) -> dict[str, bool]:
        """For /readyz: a database connection open, partitions assigned."""
        return {"database": self._conn is not None and not self._conn.closed,
                "kafka": self._consumer is not None and bool(self._consumer.assignment())}

    def run(self) -> None:
        assert self._consumer is not None and self._conn is not None
        try:
            while not self._stop.is_set():
                batch = self._consumer.consume(self.settings.sink_batch_size, self.settings.sink_batch_wait_s)
                records = [m for m in batch if m.error() is None]
                for message in batch:
                    self._log_consumer_error(message)
                # A batch of consumer errors alone (the broker away) commits nothing: a commit
                # queued while the group coordinator is away holds up the group's rejoin, and
                # the sink would wait out the request timeout again and again after Kafka is back.
                if records:
                    for chunk in _chunks(records, self.settings.sink_transaction_bytes):
                        self._store_until_stored(chunk)
                    self._commit()
        finally:
            self._consumer.close()
            if self._conn is not None:
                self._conn.close()

    def _connect(self) -> None:
        self._conn = psycopg.connect(self.settings.dsn)
        for route in self.routes.values():
            route.writer.prepare(self._conn)  # session-local staging tables: again on every connection
        self._conn.commit()

    def _store_until_stored(self, batch: list[Message]) -> None:
        """A lost database connection (a restart, a failover) is waited out: the batch is
        written again on a new connection. Its transaction either committed or not, and the
        writers are idempotent, so writing it again is safe either way."""
        while True:
            try:
                self._store(batch)
                return
            except psycopg.OperationalError as exc:
                log.warning("database connection lost (%s); reconnecting to write the batch again", exc)
                self._reconnect()

    def _reconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        while not self._stop.is_set():
            try:
                self._connect()
                return
            except psycopg.OperationalError as exc:
                log.warning("database not reachable yet (%s)", exc)
                self._stop.wait(1.0)
        raise SystemExit("stopped while waiting for the database")

    def _commit(self) -> None:
        """Asynchronous: a synchronous commit waits for the group coordinator, and after a
        broker restart the consumer finds its coordinator again only while it polls, so the
        sink sat in ``commit`` until it was thrown out of the group (seen in the restart-kafka
        fault). Offsets not committed now go with the next batch's commit; a batch read again
        meanwhile is written again, which changes nothing."""
        assert self._consumer is not None
        try:
            self._consumer.commit(asynchronous=True)
        except KafkaException as exc:
            log.warning("offset commit failed (%s); the next commit carries it", exc)

    @staticmethod
    def _committed(error: KafkaError | None, partitions: list[Any]) -> None:
        if error is not None and error.code() != KafkaError._NO_OFFSET:
            log.warning("offset commit failed (%s); the next commit carries it", error)

    def _store(self, batch: list[Message]) -> None:
        items: list[_Item] = []
        refused: list[DeadLetter] = []
        for message in batch:
            topic = str(message.topic())
            self.metrics.consumed.labels(topic).inc()
            try:
                items.append(_Item(topic, self.routes[topic].model.model_validate_json(message.value() or b""),
                                   message))
            except ValidationError as exc:
                # Our own topics carry our own schema: a record that does not parse is a bug
                # upstream. It is kept as a dead letter rather than stop every record behind it.
                self.metrics.unreadable.labels(topic).inc()
                log.error("unreadable record on %s at offset %s: %s", topic, message.offset(), exc)
                refused.append(record_dead_letter(message, "unreadable", str(exc)))
        refused += self._write_isolating(items)
        if refused:
            self._write_dead_letters(refused)

    @staticmethod
    def _log_consumer_error(message: Message) -> None:
        error = message.error()
        if error is not None and error.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error: %s", error)

    def _write_isolating(self, items: list[_Item]) -> list[DeadLetter]:
        """Writes the items in one transaction; when the database refuses one (a value its
        column cannot hold, say), halves the batch until the refused records stand alone and
        returns them as dead letters, so one record never stops the sink. Each transaction is
        idempotent, so writing the good part again after a refused attempt changes nothing."""
        if not items:
            return []
        try:
            self._write(items)
            return []
        except RECORD_ERRORS as exc:
            if len(items) == 1:
                item = items[0]
                self.metrics.refused.labels(item.topic).inc()
                log.error("record on %s at offset %s refused by the database: %s",
                          item.topic, item.message.offset(), exc, extra=ids_of(item.record))
                return [record_dead_letter(item.message, "refused_by_database", f"{type(exc).__name__}: {exc}",
                                           getattr(item.record, "device_id", None))]
        middle = len(items) // 2
        return self._write_isolating(items[:middle]) + self._write_isolating(items[middle:])

    def _write(self, items: list[_Item]) -> None:
        assert self._conn is not None
        by_topic: dict[str, list[BaseModel]] = {}
        for item in items:
            by_topic.setdefault(item.topic, []).append(item.record)
        with self._conn.transaction():
            written = {topic: self.routes[topic].writer.write(self._conn, records)
                       for topic, records in by_topic.items()}
        for topic, count in written.items():
            self.metrics.written.labels(topic).inc(count)
            if self.on_written is not None:
                self.on_written(topic, count)

    def _write_dead_letters(self, letters: list[DeadLetter]) -> None:
        """The dead-letter table is the last stop: a letter it refuses too is logged and counted."""
        assert self._conn is not None
        for letter in letters:
            try:
                with self._conn.transaction():
                    self._dead_letters.write(self._conn, [letter])
            except RECORD_ERRORS as exc:
                self.metrics.refused.labels("dead_letters").inc()
                log.error("dead letter %s could not be stored either: %s", letter.id, exc)

    def _record_lag(self, stats_json: str) -> None:
        stats = json.loads(stats_json)
        for topic, info in stats.get("topics", {}).items():
            for partition, p in info.get("partitions", {}).items():
                if partition != "-1" and p.get("consumer_lag", -1) >= 0:
                    self.metrics.lag.labels(topic, partition).set(p["consumer_lag"])
