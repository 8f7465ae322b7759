"""The sink's store: a consumed batch into the database, every record or its dead letter,
before the consumer loop commits the batch's offsets.

A crash between the database commit and the offset commit replays the batch; the writers
are idempotent, so the replay changes nothing.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Protocol, cast

import psycopg
from confluent_kafka import Message
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import BaseModel, ValidationError

from schemas.deadletter import DeadLetter, FieldError, bounded_dead_letter
from services.kafka.consumer_loop import Batch, Progress, Record, Unreadable
from services.logs import ids_of
from services.sink.settings import SinkSettings
from services.sink.writers import DeadLetterWriter

log = logging.getLogger(__name__)


class TableWriter(Protocol):
    def prepare(self, conn: psycopg.Connection) -> None: ...

    def write(self, conn: psycopg.Connection, items: Any) -> int: ...


class RecordModel(Protocol):
    """Decodes a record's value, raising ``pydantic.ValidationError`` for one that does not
    parse: a pydantic model, or a faster decoder keeping that contract (``ReadingRecord``)."""

    def model_validate_json(self, json_data: bytes | str) -> Any: ...


@dataclass(frozen=True)
class TopicTable:
    """Which model a topic carries and which writer stores it."""

    model: type[BaseModel] | RecordModel
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


def record_dead_letter(message: Message, rule: str, detail: str, device_id: str | None = None) -> DeadLetter:
    """A Kafka record the sink could not store, kept with the reason (stage: sink); the record
    itself stays on its topic, at the partition and offset the letter names."""
    topic = f"kafka:{message.topic()}/{message.partition()}@{message.offset()}"
    detail = detail.splitlines()[0] if detail else rule
    return bounded_dead_letter(stage="sink", topic=topic, payload=message.value() or b"",
                               errors=[FieldError(field="", rule=rule, message=detail)],
                               received_at=datetime.now(UTC), device_id=device_id)


def unreadable_detail(error: ValidationError) -> str:
    """The dead letter's reason for a record that does not parse: its first error, where and
    what (the error's own first line only says how many there are)."""
    errors = error.errors()
    if not errors:
        return str(error).splitlines()[0]
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _chunks(records: list[Record], limit: int) -> list[list[Record]]:
    """Consecutive records of at most ``limit`` bytes of values (at least one record each): a
    consumed batch of readings is a few hundred to a few hundred thousand readings, and one
    transaction per chunk keeps each one's memory and duration bounded. Offsets are committed
    once after every chunk is stored."""
    chunks: list[list[Record]] = [[]]
    size = 0
    for record in records:
        length = len(record.message.value() or b"")
        if chunks[-1] and size + length > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(record)
        size += length
    return chunks


def shared_out(records: list[Record], lanes: int) -> list[list[Record]]:
    """The batch's records in ``lanes`` groups of whole partitions (a partition's records stay
    in order, in one group), the largest partitions first to the group with the fewest bytes:
    one group per database connection, written at once."""
    by_partition: dict[tuple[str, int], list[Record]] = {}
    for record in records:
        by_partition.setdefault(record.partition, []).append(record)
    sized = [(sum(len(r.message.value() or b"") for r in part), part) for part in by_partition.values()]
    groups: list[list[Record]] = [[] for _ in range(lanes)]
    sizes = [0] * lanes
    for size, part in sorted(sized, key=itemgetter(0), reverse=True):
        emptiest = sizes.index(min(sizes))
        groups[emptiest] += part
        sizes[emptiest] += size
    return [group for group in groups if group]


class BatchStore:
    """The sink's handler of the consumer loop (services/kafka/consumer_loop.py): a fetched
    batch goes into the database, all of it, before the loop commits its offsets. Its
    partitions are shared out among ``sink_connections`` connections written at once, so
    that one connection's Python work (decoding is done; rows, the hash chain, COPY)
    overlaps another's wait on the database. Each connection writes in transactions of at
    most ``sink_transaction_bytes``. Connections open in ``setup()`` and are waited for when
    lost."""

    def __init__(self, settings: SinkSettings, tables: Mapping[str, TopicTable], metrics: SinkMetrics) -> None:
        # The loop only calls model_validate_json (RecordModel): a ReadingRecord is as good as a model.
        self.topics = cast(dict[str, type[BaseModel] | None], {topic: table.model for topic, table in tables.items()})
        self.metrics = metrics
        self._stop = threading.Event()
        self._lanes = [_Lane(settings, tables, metrics, self._stop)
                       for _ in range(settings.sink_connections)]

    def setup(self) -> None:
        for lane in self._lanes:
            lane.connect()

    def stop(self) -> None:
        self._stop.set()

    def connected(self) -> bool:
        """For /readyz: every database connection open."""
        return all(lane.connected() for lane in self._lanes)

    def close(self) -> None:
        for lane in self._lanes:
            lane.close()

    async def handle(self, batch: Batch) -> Progress:
        groups = shared_out(batch.records, len(self._lanes))
        refused = [self._unreadable(u) for u in batch.unreadable]
        for letters in await asyncio.gather(*(asyncio.to_thread(lane.store, group)
                                              for lane, group in zip(self._lanes, groups, strict=False))):
            refused += letters
        if refused:
            await asyncio.to_thread(self._lanes[0].write_dead_letters, refused)
        return Progress.all_of(batch)

    async def before_commit(self) -> None:
        """The sink produces nothing: its writes are committed in ``handle``."""

    def record_lag(self, stats_json: str) -> None:
        """librdkafka's statistics callback: each partition's lag, as a gauge."""
        stats = json.loads(stats_json)
        for topic, info in stats.get("topics", {}).items():
            for partition, p in info.get("partitions", {}).items():
                if partition != "-1" and p.get("consumer_lag", -1) >= 0:
                    self.metrics.lag.labels(topic, partition).set(p["consumer_lag"])

    def _unreadable(self, unreadable: Unreadable) -> DeadLetter:
        # Our own topics carry our own schema: a record that does not parse is a bug
        # upstream. It is kept as a dead letter rather than stop every record behind it.
        message = unreadable.message
        self.metrics.consumed.labels(str(message.topic())).inc()
        self.metrics.unreadable.labels(str(message.topic())).inc()
        log.error("unreadable record on %s at offset %s: %s", message.topic(), message.offset(), unreadable.error)
        return record_dead_letter(message, "unreadable", unreadable_detail(unreadable.error))


class _Lane:
    """One database connection of the sink and what it writes: its group of a batch, in
    transactions, each record or its dead letter."""

    def __init__(self, settings: SinkSettings, tables: Mapping[str, TopicTable], metrics: SinkMetrics,
                 stop: threading.Event) -> None:
        self._dead_letters = DeadLetterWriter()
        self.settings = settings
        self.tables = tables
        self.metrics = metrics
        self._stop = stop
        self._conn: psycopg.Connection | None = None

    def connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def connect(self) -> None:
        self._conn = psycopg.connect(self.settings.dsn)
        for table in self.tables.values():
            table.writer.prepare(self._conn)  # session-local staging tables: again on every connection
        self._conn.commit()

    def store(self, records: list[Record]) -> list[DeadLetter]:
        """Stores the records in transactions of at most ``sink_transaction_bytes``; returns
        the dead letters of those the database refused."""
        refused: list[DeadLetter] = []
        for chunk in _chunks(records, self.settings.sink_transaction_bytes):
            refused += self._store_until_stored(chunk)
        return refused

    def _store_until_stored(self, chunk: list[Record]) -> list[DeadLetter]:
        """A lost database connection (a restart, a failover) is waited out: the chunk is
        written again on a new connection. Its transaction either committed or not, and the
        writers are idempotent, so writing it again is safe either way."""
        # Counted per topic, not per record: a label lookup per record cost ~2 µs, a twentieth
        # of the sink's CPU for a single-sample record.
        for topic, count in collections.Counter(str(record.message.topic()) for record in chunk).items():
            self.metrics.consumed.labels(topic).inc(count)
        while True:
            try:
                return self._write_isolating(chunk)
            except psycopg.OperationalError as exc:
                log.warning("database connection lost (%s); reconnecting to write the batch again", exc)
                self._reconnect()

    def _reconnect(self) -> None:
        self.close()
        while not self._stop.is_set():
            try:
                self.connect()
                return
            except psycopg.OperationalError as exc:
                log.warning("database not reachable yet (%s)", exc)
                self._stop.wait(1.0)
        raise SystemExit("stopped while waiting for the database")

    def _write_isolating(self, items: list[Record]) -> list[DeadLetter]:
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
                self.metrics.refused.labels(str(item.message.topic())).inc()
                log.error("record on %s at offset %s refused by the database: %s",
                          item.message.topic(), item.offset, exc, extra=ids_of(item.value))
                return [record_dead_letter(item.message, "refused_by_database", f"{type(exc).__name__}: {exc}",
                                           getattr(item.value, "device_id", None))]
        middle = len(items) // 2
        return self._write_isolating(items[:middle]) + self._write_isolating(items[middle:])

    def _write(self, items: list[Record]) -> None:
        assert self._conn is not None
        by_topic: dict[str, list[BaseModel]] = {}
        for item in items:
            by_topic.setdefault(str(item.message.topic()), []).append(item.value)
        with self._conn.transaction():
            written = {topic: self.tables[topic].writer.write(self._conn, records)
                       for topic, records in by_topic.items()}
        for topic, count in written.items():
            self.metrics.written.labels(topic).inc(count)

    def write_dead_letters(self, letters: list[DeadLetter]) -> None:
        """The dead-letter table is the last stop: a letter it refuses too is logged and counted."""
        assert self._conn is not None
        for letter in letters:
            try:
                with self._conn.transaction():
                    self._dead_letters.write(self._conn, [letter])
            except RECORD_ERRORS as exc:
                self.metrics.refused.labels("dead_letters").inc()
                log.error("dead letter %s could not be stored either: %s", letter.id, exc)
