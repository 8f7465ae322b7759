"""The stream processors' faust runtime, once: how coldchain builds a faust App, the agent
that copies the compacted shipments topic, the decoding of a readings record, the publish
step, and the one place that touches faust's or aiokafka's private API
(``PRIVATE_API_CHECKED`` names the versions it was checked against; tests/component/kafka
fail when the installed ones differ)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TransportT
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ValidationError

from schemas.reading_wire import ReadingLike, decode_readings
from schemas.shipment import Shipment
from schemas.topics import PARTITIONS, SHIPMENTS
from services.connections import KafkaSettings
from services.kafka.credentials import broker_credentials
from services.kafka.stream_metrics import StreamMetrics, counted_readings
from services.kafka.topics import COMPACT
from services.metrics_server import ListenAddress, MetricsServer
from services.registry.record import shipment_of_record

log = logging.getLogger(__name__)
Out = TypeVar("Out")

# Read from the installed packages' metadata by the test that guards the private API below.
PRIVATE_API_CHECKED = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}

PRODUCER_BATCH_BYTES = 512 * 1024  # below the broker's 1 MB request limit
PRODUCER_LINGER_S = 0.005  # a few ms of batching, against hundreds of small produce requests a second
FETCH_MIN_BYTES = 64 * 1024  # a fetch returns once this much is waiting, or after the app's fetch wait


class StreamApp(faust.App):
    """A faust App whose consumer lets records gather on the broker for up to ``fetch_wait_s``.

    faust gives aiokafka no ``fetch_min_bytes``, so the broker answers a fetch as soon as one
    record is there: a worker that keeps up under a steady load fetches a few records at a
    time, and its consumer thread's fetch round trips (requests, protocol decoding, thread
    hand-offs) cost more CPU than the scoring.
    """

    def __init__(self, *args: Any, fetch_wait_s: float, **kwargs: Any) -> None:
        self.fetch_wait_s = fetch_wait_s
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> TransportT:
        return _Transport(self.conf.broker_consumer, self)


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its fetcher (a test checks them).
        consumer._fetch_min_bytes = FETCH_MIN_BYTES
        # Only StreamApp builds this transport.
        consumer._fetch_max_wait_ms = max(1, round(cast(StreamApp, self.app).fetch_wait_s * 1000))
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


def new_faust_app(
    app_id: str, kafka: KafkaSettings, store: str, datadir: Path, replication: int, table_value_serializer: str,
    fetch_wait_s: float,
) -> StreamApp:
    return StreamApp(
        app_id,
        fetch_wait_s=fetch_wait_s,
        broker=[f"kafka://{host.strip()}" for host in kafka.kafka_bootstrap.split(",")],
        broker_credentials=broker_credentials(kafka.kafka_client_config()),
        store=store,
        datadir=str(datadir),
        topic_partitions=PARTITIONS,
        topic_replication_factor=replication,
        web_enabled=False,
        # A SIGKILLed worker's partitions move on after this, not faust's default 60 s.
        broker_session_timeout=kafka.kafka_session_timeout_ms / 1000,
        broker_heartbeat_interval=kafka.kafka_heartbeat_interval_ms / 1000,
        # Every table write is a changelog record. With faust's defaults (16 KB batches, no
        # linger) a partition's batch holds a few state headers, and the producer buffer,
        # which sends one record at a time, waits a broker round trip whenever one fills:
        # under 1,000 readings/s that, not the CPU, held the excursion worker back.
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        producer_linger=PRODUCER_LINGER_S,
        key_serializer="raw",
        value_serializer="raw",
        table_key_serializer="raw",
        table_value_serializer=table_value_serializer,
    )


def internal_topics(app: faust.App, *plain: str) -> dict[str, dict[str, str]]:
    """The topics faust would create for ``app`` at start-up, as ``ensure_topics`` takes them:
    each table's changelog (compacted, as faust makes it) and the app's own ``plain`` ones."""
    changelogs = {table.changelog_topic_name: COMPACT for table in app.tables.values()}
    return {**changelogs, **{name: {} for name in plain}}


class WorkerReadiness:
    """A faust worker's /readyz: its partitions were assigned, and it is neither rebalancing
    nor recovering its tables from their changelogs now (the flags faust keeps on the app)."""

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._assigned = False
        app.on_partitions_assigned.connect(self._on_assigned)

    def _on_assigned(self, sender: Any, /, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        self._assigned = True

    def __call__(self) -> dict[str, bool]:
        return {"kafka": self._assigned and not self._app.rebalancing and not self._app.in_recovery}


def run_worker(app: faust.App, registry: CollectorRegistry, listen: ListenAddress | None, log_level: str) -> int:
    """A stream processor in the foreground: its /metrics, /healthz and /readyz served, then
    the faust worker until it is stopped."""
    MetricsServer(registry, listen, WorkerReadiness(app)).start()
    # Our logging stays (services/logs.py): faust would replace the root logger's handlers.
    faust.Worker(app, loglevel=log_level, override_logging=False).execute_from_commandline()
    return 0


def write_as(stream: faust.StreamT[Any], event: faust.EventT[Any]) -> None:
    """Makes ``event`` the stream's current event: a table write goes to the changelog
    partition of the current event, which ``take_events`` leaves unset."""
    stream._set_current_event(event)  # type: ignore[attr-defined]


def key_text(key: bytes | str | None) -> str | None:
    """A record's key as text (every coldchain topic is keyed by a shipment id)."""
    if key is None:
        return None
    return key.decode() if isinstance(key, bytes) else key


def readings_of(raw: bytes) -> Sequence[ReadingLike]:
    """The readings of one ``coldchain.readings`` record (one message's readings of one
    shipment), by the fast decoder (``schemas.reading_wire``); none, with a warning, for a
    record that does not parse: a record never stops a stream processor."""
    try:
        return decode_readings(raw)
    except ValidationError as exc:
        log.warning("skipping a readings record that does not parse: %s", exc)
        return []


ShipmentReadings = tuple[str, faust.EventT[bytes], list[ReadingLike]]


async def shipment_batches(stream: faust.StreamT[bytes], max_records: int, within_s: float,
                           counts: StreamMetrics) -> AsyncIterator[list[ShipmentReadings]]:
    """The stream's readings records, up to ``max_records`` at once or what came within
    ``within_s``, as each shipment's readings in arrival order with the first event that
    brought them (a table write goes to that event's changelog partition, ``write_as``: a
    shipment's records share one).

    A landed backlog interleaves many shipments on a partition: one record at a time, a
    processor wrote each shipment's state for every record (one message's readings), and
    that write, not the scoring, was most of its CPU.
    """
    async for batch in stream.take_events(max_records, within=within_s):  # type: ignore[attr-defined]
        grouped: dict[str, tuple[faust.EventT[bytes], list[ReadingLike]]] = {}
        for event in batch:
            readings = counted_readings(readings_of, event.value, key_text(event.key), counts)
            if readings:
                grouped.setdefault(str(readings[0].shipment_id), (event, []))[1].extend(readings)
        yield [(key, event, readings) for key, (event, readings) in grouped.items()]


class ShipmentKeyed(Protocol):
    @property
    def shipment_id(self) -> str: ...


def publisher(topic: faust.TopicT) -> Callable[[Sequence[BaseModel]], Awaitable[None]]:
    """An agent's sink that sends each output on ``topic``, keyed by its shipment id (so a
    shipment's events stay in order on one partition)."""

    async def publish(outputs: Sequence[BaseModel]) -> None:
        for output in outputs:
            key = cast(ShipmentKeyed, output).shipment_id
            await topic.send(key=key.encode(), value=output.model_dump_json().encode())

    return publish


def shipments_agent(app: faust.App, name: str, on_shipment: Callable[[str, Shipment | None], list[Out]],
                    sink: Sequence[Callable[[list[Out]], Awaitable[None]]] = ()) -> Any:
    """The agent that follows the compacted ``coldchain.shipments`` topic: ``on_shipment``
    gets each registration (None: a tombstone, or a record that does not parse) and returns
    what to send to ``sink``. Concurrency 1 (faust-streaming#606); the topic is
    co-partitioned with the readings, so a table write lands beside the shipment's readings."""
    topic = app.topic(SHIPMENTS.name, partitions=PARTITIONS)

    async def follow(stream: faust.StreamT[bytes]) -> AsyncIterator[list[Out]]:
        async for event in stream.events():
            key = key_text(event.key)
            if key is not None:
                yield on_shipment(key, shipment_of_record(event.value))

    return app.agent(topic, name=name, concurrency=1, sink=list(sink))(follow)
