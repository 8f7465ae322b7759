"""Where the links in reports point: the public address of the API (``COLDCHAIN_PUBLIC_URL``),
else where it listens (``COLDCHAIN_HTTP_HOST`` / ``COLDCHAIN_HTTP_PORT``)."""

from __future__ import annotations

from pydantic_settings import BaseSettings

from services.connections import settings_config


class LinkSettings(BaseSettings):
    model_config = settings_config()

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    public_url: str | None = None  # base of the links it makes; unset: where it listens

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.http_host}:{self.http_port}").rstrip("/")
