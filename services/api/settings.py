from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from services.connections import DatabaseSettings, KafkaSettings, settings_config


class ApiSettings(KafkaSettings, DatabaseSettings):
    model_config = settings_config()

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    excursions_profile_files: list[Path] = []  # the same profiles the excursions processor reads

    # The live feed (services/api/feed.py).
    feed_ticket_secret: SecretStr | None = None  # signs feed tickets; None: random per process
    feed_ticket_ttl_s: int = 300
    feed_client_queue: int = 1000  # events a client may fall behind before it is let go
    feed_max_replay: int = 50_000  # most records read back for a reconnecting client
    feed_keepalive_s: float = 15.0
