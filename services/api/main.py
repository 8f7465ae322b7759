from __future__ import annotations

import sys

import uvicorn

from services.api.app import create_app
from services.api.settings import ApiSettings
from services.db.migrate import require_migrated
from services.logs import configure_logging
from services.thread_deaths import exit_when_a_thread_dies


def main(settings: ApiSettings | None = None) -> int:
    exit_when_a_thread_dies()
    settings = settings or ApiSettings()
    configure_logging(settings.log_format, settings.log_level, "api")
    require_migrated(settings.dsn)  # the owner migrates (`coldchain db migrate`), not the service
    # Live-feed streams never end by themselves: give them a few seconds on shutdown, not forever.
    # log_config=None: uvicorn's loggers go through ours (services/logs.py), not its own handlers.
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None,
                log_level=settings.log_level.lower(), timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
