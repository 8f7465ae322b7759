"""``coldchain run excursions``: the excursion processor as a faust worker in the foreground."""

from __future__ import annotations

from services.cpu_priority import claim_cpu
from services.excursions.app import create_app, silence_ticks_topic
from services.excursions.settings import ExcursionSettings
from services.kafka.faust_app import internal_topics, run_worker
from services.kafka.stream_metrics import StreamMetrics
from services.kafka.topics import ensure_topics
from services.logs import configure_logging


def main() -> int:
    settings = ExcursionSettings()
    configure_logging(settings.log_format, settings.log_level, "excursions")
    claim_cpu(settings.excursions_nice, "COLDCHAIN_EXCURSIONS_NICE")
    metrics = StreamMetrics("excursions")
    app = create_app(settings, metrics=metrics)
    ensure_topics(settings.kafka_client_config(), replication=settings.excursions_replication,
                  internal=internal_topics(app, silence_ticks_topic(settings)))
    return run_worker(app, metrics.registry, settings.metrics_listen, settings.log_level)


if __name__ == "__main__":
    raise SystemExit(main())
