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
from typing import Any, Protocol

import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import BaseModel, ValidationError

from services.sink.settings import SinkSettings

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
        self.lag = Gauge("coldchain_sink_consumer_lag", "Records behind the log end", ["topic", "partition"],
                         registry=self.registry)


class Sink:
    def __init__(self, settings: SinkSettings, routes: Mapping[str, Route], metrics: SinkMetrics,
                 on_written: Callable[[str, int], None] | None = None) -> None:
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
        }))
        self._consumer.subscribe(list(self.routes))

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        assert self._consumer is not None and self._conn is not None
        try:
            while not self._stop.is_set():
                batch = self._consumer.consume(self.settings.sink_batch_size, self.settings.sink_batch_wait_s)
                if batch:
                    self._store_until_stored(batch)
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
        """Offsets not committed now (the broker restarting, a rebalance) go with the next
        batch's commit; a batch read again meanwhile is written again, which changes nothing."""
        assert self._consumer is not None
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            log.warning("offset commit failed (%s); the next commit carries it", exc)

    def _store(self, batch: list[Message]) -> None:
        assert self._conn is not None
        parsed: dict[str, list[BaseModel]] = {topic: [] for topic in self.routes}
        for message in batch:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", error)
                continue
            topic = str(message.topic())
            self.metrics.consumed.labels(topic).inc()
            try:
                parsed[topic].append(self.routes[topic].model.model_validate_json(message.value() or b""))
            except ValidationError as exc:
                # Our own topics carry our own schema: a record that does not parse is a bug
                # upstream. Skip it loudly rather than stop every other record behind it.
                self.metrics.unreadable.labels(topic).inc()
                log.error("unreadable record on %s at offset %s: %s", topic, message.offset(), exc)
        with self._conn.transaction():
            written = {topic: self.routes[topic].writer.write(self._conn, items)
                       for topic, items in parsed.items() if items}
        for topic, count in written.items():
            self.metrics.written.labels(topic).inc(count)
            if self.on_written is not None:
                self.on_written(topic, count)

    def _record_lag(self, stats_json: str) -> None:
        stats = json.loads(stats_json)
        for topic, info in stats.get("topics", {}).items():
            for partition, p in info.get("partitions", {}).items():
                if partition != "-1" and p.get("consumer_lag", -1) >= 0:
                    self.metrics.lag.labels(topic, partition).set(p["consumer_lag"])
