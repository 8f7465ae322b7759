"""Wires ingest together: settings -> binding cache -> metrics -> bridge."""

from __future__ import annotations

import logging
import signal
import sys

from services.ingest.bridge import IngestBridge
from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings
from services.logs import configure_logging
from services.metrics_server import MetricsServer
from services.registry.bindings import BindingCache
from services.thread_deaths import exit_when_a_thread_dies


def main(settings: IngestSettings | None = None) -> int:
    exit_when_a_thread_dies()
    settings = settings or IngestSettings()
    configure_logging(settings.log_format, settings.log_level, "ingest")
    metrics = IngestMetrics()
    bindings = BindingCache(settings.dsn, settings.ingest_binding_refresh_s)
    bridge = IngestBridge(settings, bindings.bind, metrics)
    MetricsServer(metrics.registry, settings.metrics_listen, lambda: {"mqtt": bridge.connected()}).start()
    bindings.start()
    signal.signal(signal.SIGTERM, lambda *_: bridge.stop())
    signal.signal(signal.SIGINT, lambda *_: bridge.stop())
    bridge.start()
    bridge.wait()
    bridge.stop()
    bindings.stop()
    if bridge.fatal:
        logging.error("ingest stopped: %s", bridge.fatal)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
