"""The demo's one settings object (``COLDCHAIN_*``, ``.env``, the local stack's env)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from devtools.simulate.scenarios import SCENARIOS, ScenarioName
from devtools.stack.layout import default_root
from services.connections import DatabaseSettings, KafkaSettings, settings_config


class DemoSettings(KafkaSettings, DatabaseSettings):
    model_config = settings_config()

    http_host: str = "127.0.0.1"  # where the API and dashboard listen (shared with the api service)
    http_port: int = 8000
    demo_dir: Path = Field(default_factory=lambda: default_root() / "demo")
    demo_smtp_port: int = 1025  # the local mail catcher; 0 = any free port
    demo_sms_port: int = 1026  # the local SMS gateway; 0 = any free port
    demo_shipments: int = Field(default=8, ge=1)
    demo_scenarios: tuple[ScenarioName, ...] = SCENARIOS
    demo_duration_s: float = Field(default=600.0, gt=0)  # real seconds the whole fleet takes
    demo_seed: int | None = None  # default: a new fleet each run
    demo_status_every_s: float = Field(default=15.0, gt=0)

    @property
    def api_url(self) -> str:
        return f"http://{self.http_host}:{self.http_port}"

    @property
    def mail_dir(self) -> Path:
        return self.demo_dir / "mail"

    @property
    def log_dir(self) -> Path:
        return self.demo_dir / "logs"
