"""Wires the sink: which topic goes to which table, in one place."""

from __future__ import annotations

import asyncio
import signal
import sys

from schemas.deadletter import DeadLetter
from schemas.eta import EtaUpdate
from schemas.excursion import ExcursionEvent
from schemas.reading_wire import ReadingRecord
from schemas.topics import DEADLETTER, ETA, EXCURSIONS, READINGS
from services.cpu_priority import yield_cpu
from services.db.migrate import require_migrated
from services.kafka.clients import group_consumer
from services.kafka.consumer_loop import ConsumerLoop, LoopSettings
from services.logs import configure_logging
from services.metrics_server import MetricsServer
from services.sink.settings import SinkSettings
from services.sink.store import BatchStore, SinkMetrics, TopicTable
from services.sink.writers import DeadLetterWriter, EtaWriter, ExcursionWriter, ReadingWriter
from services.thread_deaths import exit_when_a_thread_dies


def tables() -> dict[str, TopicTable]:
    return {
        READINGS.name: TopicTable(ReadingRecord, ReadingWriter()),
        DEADLETTER.name: TopicTable(DeadLetter, DeadLetterWriter()),
        EXCURSIONS.name: TopicTable(ExcursionEvent, ExcursionWriter()),
        ETA.name: TopicTable(EtaUpdate, EtaWriter()),
    }


def consumer_loop(settings: SinkSettings, store: BatchStore) -> ConsumerLoop:
    return ConsumerLoop(
        store,
        LoopSettings(max_records=settings.sink_batch_size, wait_s=0.5, linger_s=settings.sink_batch_wait_s,
                     read_ahead=True),
        lambda: group_consumer(settings, settings.sink_group_id, **{
            "statistics.interval.ms": 5000, "stats_cb": store.record_lag}),
    )


async def serve(store: BatchStore, loop: ConsumerLoop) -> None:
    stop = asyncio.Event()

    def stopping() -> None:
        stop.set()
        store.stop()  # also ends a wait for the database

    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stopping)
    try:
        await loop.run(stop)
    finally:
        loop.close()
        store.close()


def main(settings: SinkSettings | None = None) -> int:
    exit_when_a_thread_dies()
    settings = settings or SinkSettings()
    configure_logging(settings.log_format, settings.log_level, "sink")
    yield_cpu(settings.sink_nice)
    require_migrated(settings.dsn)  # the owner migrates (`coldchain db migrate`), not the service
    metrics = SinkMetrics()
    store = BatchStore(settings, tables(), metrics)
    loop = consumer_loop(settings, store)
    MetricsServer(metrics.registry, settings.metrics_listen,
                  lambda: {"database": store.connected(), "kafka": loop.assigned()}).start()
    store.setup()
    asyncio.run(serve(store, loop))
    return 0


if __name__ == "__main__":
    sys.exit(main())
