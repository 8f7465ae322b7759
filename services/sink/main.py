"""Wires the sink: which topic goes to which table, in one place."""

from __future__ import annotations

import signal
import sys

from schemas.deadletter import DeadLetter
from schemas.eta import EtaUpdate
from schemas.excursion import ExcursionEvent
from schemas.reading import ReadingBatch
from schemas.topics import DEADLETTER, ETA, EXCURSIONS, READINGS
from services.cpu_priority import yield_cpu
from services.db.migrate import require_migrated
from services.logs import configure_logging
from services.metrics_server import MetricsServer
from services.sink.consumer import Route, Sink, SinkMetrics
from services.sink.settings import SinkSettings
from services.sink.writers import DeadLetterWriter, EtaWriter, ExcursionWriter, ReadingWriter
from services.thread_deaths import exit_when_a_thread_dies


def routes() -> dict[str, Route]:
    return {
        READINGS.name: Route(ReadingBatch, ReadingWriter()),
        DEADLETTER.name: Route(DeadLetter, DeadLetterWriter()),
        EXCURSIONS.name: Route(ExcursionEvent, ExcursionWriter()),
        ETA.name: Route(EtaUpdate, EtaWriter()),
    }


def main(settings: SinkSettings | None = None) -> int:
    exit_when_a_thread_dies()
    settings = settings or SinkSettings()
    configure_logging(settings.log_format, settings.log_level, "sink")
    yield_cpu(settings.sink_nice)
    require_migrated(settings.dsn)  # the owner migrates (`coldchain db migrate`), not the service
    metrics = SinkMetrics()
    sink = Sink(settings, routes(), metrics)
    MetricsServer(metrics.registry, settings.metrics_listen, sink.readiness).start()
    signal.signal(signal.SIGTERM, lambda *_: sink.stop())
    signal.signal(signal.SIGINT, lambda *_: sink.stop())
    sink.start()
    sink.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
