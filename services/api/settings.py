from __future__ import annotations

from pathlib import Path

from services.connections import DatabaseSettings, KafkaSettings, settings_config


class ApiSettings(KafkaSettings, DatabaseSettings):
    model_config = settings_config()

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    excursions_profile_files: list[Path] = []  # the same profiles the excursions processor reads
