"""The retention service: every `COLDCHAIN_RETENTION_EVERY_S`, drop (and, on the full build,
compress) old chunks. The Apache build of TimescaleDB has no policies or job scheduler, so
the application keeps the schedule itself."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from datetime import UTC, datetime

import psycopg

from services.db.migrate import require_migrated
from services.integrity.sealing import seal_due
from services.logs import configure_logging
from services.metrics_server import MetricsServer
from services.retention.metrics import RetentionMetrics
from services.retention.policy import plan
from services.retention.settings import RetentionSettings
from services.retention.store import apply, timescale_license

log = logging.getLogger(__name__)


def run_once(settings: RetentionSettings) -> dict[str, int]:
    with psycopg.connect(settings.dsn, autocommit=True) as conn:
        now = datetime.now(UTC)
        sealed = seal_due(conn, now)  # before any chunk is dropped: a seal names live readings
        if sealed:
            log.info("sealed %d shipments: %s", len(sealed), ", ".join(sealed[:20]))
        todo = plan(now, settings.retention_days, settings.retention_compress_after_days, timescale_license(conn))
        return {**apply(conn, todo), **({"sealed": len(sealed)} if sealed else {})}


def run_and_record(settings: RetentionSettings, metrics: RetentionMetrics) -> None:
    try:
        done: dict[str, int] | None = run_once(settings)
        log.info("retention run: %s", done or "nothing to do")
    except psycopg.Error as exc:  # a database outage must not end the schedule
        done = None
        log.error("retention run failed: %s", exc)
    metrics.observe_run(done, datetime.now(UTC))


def main(settings: RetentionSettings | None = None) -> int:
    settings = settings or RetentionSettings()
    configure_logging(settings.log_format, settings.log_level, "retention")
    require_migrated(settings.dsn)  # the owner migrates (`coldchain db migrate`), not the service
    metrics = RetentionMetrics()
    MetricsServer(metrics.registry, settings.metrics_listen, lambda: {"database": metrics.last_run_ok}).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("retention: keep %s days, every %.0f s", settings.retention_days or "all", settings.retention_every_s)
    while not stop.is_set():
        run_and_record(settings, metrics)
        stop.wait(settings.retention_every_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
