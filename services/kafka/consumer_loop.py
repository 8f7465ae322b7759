"""The one Kafka consumer loop outside faust: fetch → decode → handle → flush → commit, with
pause-and-seek for a record that has to wait.

Three services consume this way, each as a ``RecordHandler``: the sink (a batch into the
database in one go), the alert service (record by record into the outbox; a record that
cannot be handled yet holds back only its own partition) and the API's live feed (no group,
nothing committed). The loop does the rest, once:

- **fetch**: the first record as soon as it arrives, then what is already queued behind it
  (or what comes within ``linger_s``), up to ``max_records``; consumer errors are logged
  (the end of a partition is not one) and never reach the handler;
- **decode**: each record into its topic's model; one that does not parse goes to the
  handler as ``unreadable`` (the sink keeps it as a dead letter, the alert service counts
  it) and is finished with: a record never stops the records behind it;
- **handle**: the handler says, per partition, how far it got and where it has to wait;
- **hold**: a partition that has to wait is paused and sought back to its waiting record,
  and resumed after ``retry_after_s``; the other partitions go on;
- **read ahead** (``LoopSettings.read_ahead``, the sink): the next fetch runs while the handler
  stores this batch, so the sink's decoding and the database's work overlap instead of taking
  turns. The consumer is still touched by one call at a time: the commit, holds and changes
  come after both. The next batch loses its records of a partition this one held (they are
  read again from the held record);
- **flush, then commit**: the handler confirms what it produced (``before_commit``), then the
  offsets after what was handled are committed, asynchronously. A synchronous commit waits
  for the group coordinator, which after a broker restart the consumer only finds again
  while it polls: the sink once sat in ``commit`` until it was thrown out of its group.
  An offset not committed goes with the next commit; a record read again after a crash is
  handled again, which every handler makes harmless (idempotent writes).

A broker that goes away is waited out: the loop logs, closes the consumer and opens a new
one with a backoff. Clients open in ``setup()``; the constructor does no I/O.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

Partition = tuple[str, int]


def partition_of(message: Message) -> Partition:
    return str(message.topic()), int(message.partition() or 0)


@dataclass(frozen=True)
class Record:
    """A consumed record and its value in its topic's model (the raw bytes for a topic
    the handler reads without one)."""

    message: Message
    value: Any

    @property
    def partition(self) -> Partition:
        return partition_of(self.message)

    @property
    def offset(self) -> int:
        return int(self.message.offset() or 0)


@dataclass(frozen=True)
class Unreadable:
    message: Message
    error: ValidationError


@dataclass(frozen=True)
class Batch:
    records: list[Record]
    unreadable: list[Unreadable]


@dataclass
class Progress:
    """How far a handler got in a batch, per partition: the highest offset it finished with,
    and the first offset it has to read again later. A handler takes a partition's records in
    order and stops that partition at its first held record."""

    done: dict[Partition, int] = field(default_factory=dict)
    held: dict[Partition, int] = field(default_factory=dict)

    @classmethod
    def all_of(cls, batch: Batch) -> Progress:
        progress = cls()
        for message in [r.message for r in batch.records] + [u.message for u in batch.unreadable]:
            progress.finish(message)
        return progress

    def finish(self, message: Message) -> None:
        partition = partition_of(message)
        self.done[partition] = max(self.done.get(partition, -1), int(message.offset() or 0))

    def hold(self, message: Message) -> None:
        self.held.setdefault(partition_of(message), int(message.offset() or 0))

    def is_held(self, partition: Partition) -> bool:
        return partition in self.held

    def to_commit(self) -> list[TopicPartition]:
        """The next offset to read, per partition: a held partition's waiting record, else
        the one after the last finished."""
        ends = {p: offset + 1 for p, offset in self.done.items()} | self.held
        return [TopicPartition(topic, partition, offset) for (topic, partition), offset in ends.items()]


class RecordHandler(Protocol):
    @property
    def topics(self) -> Mapping[str, type[BaseModel] | None]:
        """The model of each topic it reads (None: the raw bytes, not decoded)."""

    async def handle(self, batch: Batch) -> Progress: ...

    async def before_commit(self) -> None:
        """Confirms what handling produced (events on other topics) before the offsets go."""


@dataclass(frozen=True)
class LoopSettings:
    max_records: int = 500
    wait_s: float = 0.5  # how long a fetch waits for a first record
    linger_s: float = 0.0  # how long it then waits for up to max_records
    retry_after_s: float = 2.0  # how long a held partition stays paused
    reconnect_max_s: float = 10.0
    read_ahead: bool = False  # fetch the next batch while this one is handled


def fetch(consumer: Consumer, max_records: int, wait_s: float, linger_s: float = 0.0) -> list[Message]:
    """Up to ``max_records`` records, without consumer errors (logged). ``consume(n, t)``
    alone waits until it has ``n`` records or ``t`` ends, so a lone alert-worthy record
    would wait out the whole timeout; a first ``poll`` returns it as soon as it arrives."""
    first = consumer.poll(wait_s)
    if first is None:
        return []
    messages = [first, *consumer.consume(max_records - 1, linger_s)] if max_records > 1 else [first]
    return [m for m in messages if usable(m)]


def usable(message: Message) -> bool:
    error = message.error()
    if error is None:
        return True
    if error.code() != KafkaError._PARTITION_EOF:
        log.warning("consumer error on %s[%s]: %s", message.topic(), message.partition(), error)
    return False


def _without(batch: Batch | None, held: set[Partition]) -> Batch | None:
    """``batch`` less its records of ``held`` partitions (None when nothing is left)."""
    if batch is None or not held:
        return batch
    records = [r for r in batch.records if r.partition not in held]
    unreadable = [u for u in batch.unreadable if partition_of(u.message) not in held]
    return Batch(records, unreadable) if records or unreadable else None


def decode(messages: list[Message], topics: Mapping[str, type[BaseModel] | None]) -> Batch:
    records: list[Record] = []
    unreadable: list[Unreadable] = []
    for message in messages:
        model = topics.get(str(message.topic()))
        if model is None:
            records.append(Record(message, message.value() or b""))
            continue
        try:
            records.append(Record(message, model.model_validate_json(message.value() or b"")))
        except ValidationError as exc:
            unreadable.append(Unreadable(message, exc))
    return Batch(records, unreadable)


class ConsumerLoop:
    """Runs ``handler`` over the records of the consumer that ``open_consumer`` makes (in a
    thread: it may block on the broker), until ``stop`` is set. ``subscribe``: a group
    consumer, subscribed to the handler's topics and committing what it handled; False for a
    consumer that assigns its own partitions and commits nothing (the live feed)."""

    def __init__(self, handler: RecordHandler, settings: LoopSettings,
                 open_consumer: Callable[[], Consumer], subscribe: bool = True) -> None:
        self._handler = handler
        self._settings = settings
        self._open_consumer = open_consumer
        self._subscribe = subscribe
        self._consumer: Consumer | None = None
        self._paused: dict[Partition, float] = {}  # partition -> monotonic time to resume
        self._changes: list[Callable[[Consumer], None]] = []
        self._ahead: Batch | None = None  # fetched while the previous batch was handled

    def setup(self) -> None:
        consumer = self._open_consumer()
        if self._subscribe:
            consumer.subscribe(list(self._handler.topics), on_assign=_log_assigned, on_revoke=self._revoked)
        self._consumer = consumer

    def assigned(self) -> bool:
        """For /readyz: the consumer has partitions (False before setup, or while a
        rebalance has taken them away)."""
        consumer = self._consumer
        return consumer is not None and bool(consumer.assignment())

    def between_fetches(self, change: Callable[[Consumer], None]) -> None:
        """Runs ``change`` on the consumer before the next fetch, on the loop's own thread:
        never while a fetch runs (the live feed pausing and seeking partitions no client
        reads). A consumer opened again meanwhile gets it instead."""
        self._changes.append(change)

    def close(self) -> None:
        self._ahead = None  # not committed: read again by whoever has the partitions next
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                if self._consumer is None:
                    await asyncio.to_thread(self.setup)
                await self.step()
                backoff = 0.5
            except KafkaException as exc:
                log.warning("Kafka not usable (%s); a new consumer in %.1f s", exc, backoff)
                await asyncio.to_thread(self.close)
                self._paused.clear()
                await _wait(stop, backoff)
                backoff = min(backoff * 2, self._settings.reconnect_max_s)

    async def step(self) -> None:
        """One fetch, handled and committed."""
        consumer = self._require()
        self._resume_due(consumer)
        while self._changes:
            self._changes.pop(0)(consumer)
        batch, self._ahead = self._ahead, None
        if batch is None:
            batch = await self._fetch(consumer)
        if batch is None:
            return
        if self._settings.read_ahead:
            # Both end before anything else touches the consumer, also when one fails (closing
            # the consumer while the other thread still polls it is not safe).
            handled, fetched = await asyncio.gather(self._handler.handle(batch), self._fetch(consumer),
                                                    return_exceptions=True)
            for outcome in (handled, fetched):
                if isinstance(outcome, BaseException):
                    raise outcome
            assert isinstance(handled, Progress) and not isinstance(fetched, BaseException)
            progress, self._ahead = handled, _without(fetched, set(handled.held))
        else:
            progress = await self._handler.handle(batch)
        for partition, offset in progress.held.items():
            self._hold(consumer, partition, offset)
        if self._subscribe and (progress.done or progress.held):
            await self._handler.before_commit()
            try:
                consumer.commit(offsets=progress.to_commit(), asynchronous=True)
            except KafkaException as exc:  # the next commit carries these offsets
                log.warning("offset commit failed (%s); the next commit carries it", exc)

    async def _fetch(self, consumer: Consumer) -> Batch | None:
        settings = self._settings
        messages = await asyncio.to_thread(fetch, consumer, settings.max_records, settings.wait_s, settings.linger_s)
        return decode(messages, self._handler.topics) if messages else None

    def _hold(self, consumer: Consumer, partition: Partition, offset: int) -> None:
        consumer.pause([TopicPartition(*partition)])
        consumer.seek(TopicPartition(partition[0], partition[1], offset))
        self._paused[partition] = time.monotonic() + self._settings.retry_after_s

    def _resume_due(self, consumer: Consumer) -> None:
        now = time.monotonic()
        due = [p for p, at in self._paused.items() if at <= now]
        for partition in due:
            del self._paused[partition]
        if due:
            consumer.resume([TopicPartition(*p) for p in due])

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._paused.pop((tp.topic, tp.partition), None)
        log.info("partitions revoked: %s", _names(partitions))

    def _require(self) -> Consumer:
        if self._consumer is None:
            raise RuntimeError("ConsumerLoop.setup() was not called")
        return self._consumer


def _log_assigned(consumer: Consumer, partitions: list[TopicPartition]) -> None:
    log.info("partitions assigned: %s", _names(partitions))


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "none"


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
