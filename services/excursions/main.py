"""``coldchain run excursions``: the excursion processor as a faust worker in the foreground."""

from __future__ import annotations

import logging

import faust

from services.cpu_priority import claim_cpu
from services.excursions.app import create_app
from services.excursions.settings import ExcursionSettings
from services.kafka.topics import ensure_topics


def main() -> int:
    logging.basicConfig(level=logging.INFO)
    settings = ExcursionSettings()
    claim_cpu(settings.excursions_nice, "COLDCHAIN_EXCURSIONS_NICE")
    ensure_topics(settings.kafka_client_config(), replication=settings.excursions_replication)
    worker = faust.Worker(create_app(settings), loglevel="INFO")
    worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
