"""The live feed: one Kafka consumer per API process, fanned out to Server-Sent Events clients.

The consumer reads ``coldchain.readings``, ``.excursions``, ``.eta`` and ``.alerts`` from
their current end, through the consumer loop (services/kafka/consumer_loop.py) on the API's
event loop, without joining a consumer group (it assigns every partition itself and never
commits). Each record becomes one event, handed to the
subscribers whose filter takes it, and carries the feed position after it as its id
(``feed_position``). A reconnecting client names its last id; the records it missed are
read again from Kafka, bounded by ``max_replay``, by a short-lived consumer of their own.

While no client takes ``reading`` events the feed does not fetch ``coldchain.readings`` (a
landed backlog is millions of readings, and reading them all for no one cost the API a core's
tenth in the landing burst): the first client that takes them wakes it at the topic's end,
and its position says so. A client that comes back for the readings it missed meanwhile is
replayed them from Kafka like any others.

A slow client never holds up the others: each has a bounded queue, and one that falls
that far behind is disconnected; its ``EventSource`` reconnects with its last id and
is replayed what it had not been sent. A dead Kafka leaves the API up: the feed keeps
retrying, and its clients get keep-alives meanwhile.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel

from schemas.topics import READINGS
from services.api.feed_position import FEED_TOPICS, FeedPosition, sse_frame
from services.connections import KafkaSettings
from services.kafka.clients import groupless_consumer
from services.kafka.consumer_loop import Batch, ConsumerLoop, LoopSettings, Progress, fetch
from services.registry.access import Parties, within
from services.registry.postgres import parties_by_id

log = logging.getLogger(__name__)

Partition = tuple[str, int]


class ShipmentParties:
    """Seller and buyer names by shipment id, from the registry, remembered once found."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self._known: dict[str, Parties] = {}

    async def of(self, shipment_id: str) -> Parties | None:
        if shipment_id in self._known:
            return self._known[shipment_id]
        if shipment_id.startswith("device:"):  # an unbound device's readings belong to no one
            return None
        async with self.pool.connection() as conn:
            parties = await parties_by_id(conn, shipment_id)
        if parties is not None:
            self._known[shipment_id] = parties
        return parties


@dataclass(frozen=True)
class FeedFilter:
    types: frozenset[str]
    shipment: str | None = None
    party: str | None = None  # the viewer's scope_of: only shipments where it is seller or buyer

    def takes(self, event_type: str, key: str) -> bool:
        return event_type in self.types and (self.shipment is None or key == self.shipment)

    def visible(self, parties: Parties | None) -> bool:
        return within(self.party, parties)


@dataclass(eq=False)
class Subscriber:
    filter: FeedFilter
    queue: asyncio.Queue[str | None]
    dropped: bool = False

    def offer(self, frame: str) -> bool:
        """Queues a frame; False when the client fell too far behind (it is then let go)."""
        try:
            self.queue.put_nowait(frame)
            return True
        except asyncio.QueueFull:
            self.dropped = True
            self.end()  # it reconnects with its last event id and is replayed the rest
            return False

    def end(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


@dataclass
class FeedStats:
    events: int = 0
    dropped_clients: int = 0


class LiveFeed:
    def __init__(self, kafka: KafkaSettings, parties: ShipmentParties, queue_size: int = 1000,
                 max_replay: int = 50_000, replay_timeout_s: float = 15.0, wake_timeout_s: float = 5.0) -> None:
        self._kafka = kafka
        self._parties = parties
        self._queue_size = queue_size
        self.max_replay = max_replay
        self._replay_timeout_s = replay_timeout_s
        self._wake_timeout_s = wake_timeout_s
        self._resting = False  # readings paused: no client takes them
        self._waking: list[asyncio.Future[None]] = []
        self._subscribers: set[Subscriber] = set()
        self._next: dict[Partition, int] | None = None  # None until Kafka answered
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()
        self._consumer = ConsumerLoop(self, LoopSettings(max_records=500, wait_s=0.25),
                                      self._open_consumer, subscribe=False)
        self._task: asyncio.Task[None] | None = None
        self.stats = FeedStats()
        self.topics: dict[str, type[BaseModel] | None] = dict.fromkeys(FEED_TOPICS)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        # A dead Kafka leaves the API up: the loop keeps opening a new consumer.
        self._task = asyncio.create_task(self._consumer.run(self._stopping), name="live-feed")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.wait([self._task], timeout=10)
        self._consumer.close()
        for subscriber in list(self._subscribers):
            subscriber.end()
        self._subscribers.clear()

    @property
    def live(self) -> bool:
        return self._next is not None

    # -- subscribers -----------------------------------------------------------------------

    async def subscribe(self, feed_filter: FeedFilter) -> tuple[Subscriber, FeedPosition | None]:
        """A new subscriber, and the position its live events start from (None: Kafka not
        reached yet). No await between the two: no record falls between them."""
        if "reading" in feed_filter.types and self._resting:
            await self._woken()
        subscriber = Subscriber(feed_filter, asyncio.Queue(self._queue_size))
        self._subscribers.add(subscriber)
        return subscriber, (FeedPosition(dict(self._next)) if self._next is not None else None)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    async def replay(self, since: FeedPosition, until: FeedPosition, feed_filter: FeedFilter) -> list[str] | None:
        """The frames a client at ``since`` missed up to ``until``; None when more than
        ``max_replay`` records lie between them, or Kafka no longer has them all.
        Raises ``BadPosition`` for a position of another partition layout."""
        ranges = until.missed_since(since)
        if sum(end - start for start, end in ranges.values()) > self.max_replay:
            return None
        if not ranges:
            return []
        records = await asyncio.to_thread(self._read_ranges, ranges)
        if records is None:
            return None
        position = dict(since.next_offsets)
        frames = []
        for message in _merged_by_time(records):
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            assert topic is not None and partition is not None and offset is not None
            position[(topic, partition)] = offset + 1
            event_type = FEED_TOPICS[topic]
            if event_type not in feed_filter.types:
                continue
            key = _shipment_of(message)
            if feed_filter.takes(event_type, key) and feed_filter.visible(
                    await self._parties.of(key) if feed_filter.party else None):
                frames.append(_frame(event_type, message, FeedPosition(position).encode()))
        return frames

    # -- the consumer loop's handler -----------------------------------------------------

    async def handle(self, batch: Batch) -> Progress:
        try:
            await self._dispatch(record.message for record in batch.records)
        except Exception:  # the registry away, say: the feed goes on with the next records
            log.exception("live feed: %d records not dispatched", len(batch.records))
        if self._takes_readings() == self._resting:  # settled when it applies (_rest, _wake)
            self._consumer.between_fetches(self._wake if self._resting else self._rest)
        return Progress()  # a groupless reader commits nothing

    async def before_commit(self) -> None:
        """Nothing to confirm: the feed produces nothing."""

    # -- resting: readings no client takes are not fetched --------------------------------

    @property
    def resting(self) -> bool:
        return self._resting

    def _takes_readings(self) -> bool:
        return any("reading" in s.filter.types for s in self._subscribers)

    async def _woken(self) -> None:
        woken = asyncio.get_running_loop().create_future()
        self._waking.append(woken)
        self._consumer.between_fetches(self._wake)
        try:
            await asyncio.wait_for(asyncio.shield(woken), self._wake_timeout_s)
        except TimeoutError:  # Kafka away: the feed wakes the readings once it is back
            log.warning("live feed: readings not woken within %.0f s", self._wake_timeout_s)

    def _rest(self, consumer: Consumer) -> None:
        if self._resting or self._takes_readings():
            return
        consumer.pause(_readings_of(consumer))
        self._resting = True
        log.info("live feed: no client takes readings; not fetching them")

    def _wake(self, consumer: Consumer) -> None:
        """Readings from the topic's end on (what came meanwhile went to no client; one
        that missed it is replayed it), and the feed's position there."""
        if self._resting and self._next is not None:
            partitions = _readings_of(consumer)
            ends = [TopicPartition(tp.topic, tp.partition, consumer.get_watermark_offsets(tp, timeout=5)[1])
                    for tp in partitions]
            for end in ends:
                consumer.seek(end)
            consumer.resume(partitions)
            self._next.update({(end.topic, end.partition): end.offset for end in ends})
            self._resting = False
            log.info("live feed: a client takes readings; fetching them from the end")
        for woken in self._waking:
            if not woken.done():
                woken.set_result(None)
        self._waking.clear()

    def _open_consumer(self) -> Consumer:
        """A consumer assigned every feed partition, from where the feed left off (in the
        loop's thread: it waits for the broker)."""
        consumer = groupless_consumer(self._kafka)
        try:
            start = self._start_offsets(consumer)
            consumer.assign([TopicPartition(t, p, o) for (t, p), o in start.items()])
            if self._resting:  # a new consumer after Kafka was away: readings stay paused
                consumer.pause(_readings_of(consumer))
        except BaseException:
            consumer.close()
            raise
        self._call_on_loop(self._set_origin, start)
        log.info("live feed reading %d partitions of %s", len(start), ", ".join(FEED_TOPICS))
        return consumer

    def _start_offsets(self, consumer: Consumer) -> dict[Partition, int]:
        """Where it left off after a restart; the end of each partition the first time."""
        if self._next is not None:
            return dict(self._next)
        metadata = consumer.list_topics(timeout=10)
        offsets: dict[Partition, int] = {}
        for topic in FEED_TOPICS:
            found = metadata.topics.get(topic)
            if found is None or found.error is not None or not found.partitions:
                raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, f"topic {topic} does not exist yet"))
            for partition in found.partitions:
                offsets[(topic, partition)] = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10)[1]
        return offsets

    def _read_ranges(self, ranges: dict[Partition, tuple[int, int]]) -> list[list[Message]] | None:
        """Every record in the ``[from, to)`` offset ranges, per partition in offset order."""
        consumer = groupless_consumer(self._kafka)
        try:
            for (topic, partition), (start, _) in ranges.items():
                low, _high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                if start < low:  # retention removed part of what the client missed
                    return None
            consumer.assign([TopicPartition(t, p, start) for (t, p), (start, _) in ranges.items()])
            found: dict[Partition, list[Message]] = {tp: [] for tp in ranges}
            pending = set(ranges)
            deadline = time.monotonic() + self._replay_timeout_s
            while pending and time.monotonic() < deadline:
                for message in fetch(consumer, 500, 0.25):
                    tp = (message.topic() or "", message.partition() or 0)
                    offset = message.offset() or 0
                    if tp in pending and offset < ranges[tp][1]:
                        found[tp].append(message)
                    if offset >= ranges[tp][1] - 1:
                        pending.discard(tp)
            return list(found.values()) if not pending else None
        finally:
            consumer.close()

    # -- on the event loop -----------------------------------------------------------------

    def _call_on_loop(self, function: Any, *args: Any) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(function, *args)

    def _set_origin(self, start: dict[Partition, int]) -> None:
        if self._next is None:
            self._next = dict(start)

    async def _dispatch(self, messages: Iterable[Message]) -> None:
        assert self._next is not None
        for message in messages:
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            assert topic is not None and partition is not None and offset is not None
            self._next[(topic, partition)] = offset + 1
            event_type = FEED_TOPICS[topic]
            if not any(event_type in s.filter.types for s in self._subscribers):
                continue
            key = _shipment_of(message)
            # Who takes it is settled before any await: a client subscribing meanwhile has
            # this record in its starting position already.
            takers = [s for s in self._subscribers if s.filter.takes(event_type, key)]
            if not takers:
                continue
            frame = _frame(event_type, message, FeedPosition(dict(self._next)).encode())
            parties = await self._parties.of(key) if any(s.filter.party for s in takers) else None
            self.stats.events += 1
            for subscriber in takers:
                if subscriber.dropped or not subscriber.filter.visible(parties):
                    continue
                if not subscriber.offer(frame):
                    self.stats.dropped_clients += 1
                    self._subscribers.discard(subscriber)
                    log.info("live feed: a client fell %d events behind; disconnected", self._queue_size)


def _readings_of(consumer: Consumer) -> list[TopicPartition]:
    return [tp for tp in consumer.assignment() if tp.topic == READINGS.name]


def _shipment_of(message: Message) -> str:
    """The record's shipment id: its key (an unbound device's readings are keyed
    ``device:{id}`` and belong to no shipment)."""
    return (message.key() or b"").decode(errors="replace")


def _frame(event_type: str, message: Message, position: str) -> str:
    return "".join(sse_frame(event_type, value, position) for value in _values(event_type, message))


def _values(event_type: str, message: Message) -> list[str]:
    """The event bodies of one record: a readings record (one message's readings of one
    shipment) is one ``reading`` event per reading, as the contract's feed sends them."""
    raw = (message.value() or b"{}").decode(errors="replace")
    if event_type != "reading":
        return [raw]
    try:
        readings = json.loads(raw)["readings"]
    except (ValueError, KeyError, TypeError):
        return [raw]
    return [json.dumps(reading, separators=(",", ":")) for reading in readings]


def _merged_by_time(per_partition: list[list[Message]]) -> Iterator[Message]:
    """One sequence, roughly by record time, keeping each partition's own order."""
    return heapq.merge(*per_partition, key=lambda m: m.timestamp()[1])
