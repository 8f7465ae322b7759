from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from services.connections import DatabaseSettings, KafkaSettings, settings_config
from services.logs import LogSettings
from services.profiles.settings import ProfileSettings
from services.reports.settings import LinkSettings


class ApiSettings(KafkaSettings, DatabaseSettings, LinkSettings, ProfileSettings, LogSettings):
    """Where it listens and the base of its links come from ``LinkSettings`` (``base_url``); the
    product profiles from ``ProfileSettings``, the excursion processor's own."""

    model_config = settings_config()
    own_database: ClassVar[str | None] = "api"  # COLDCHAIN_API_DATABASE_URL, its own role

    # The live feed (services/api/feed.py).
    feed_ticket_secret: SecretStr | None = None  # signs feed tickets; None: random per process
    feed_ticket_ttl_s: int = 300
    feed_client_queue: int = 1000  # events a client may fall behind before it is let go
    feed_max_replay: int = 50_000  # most records read back for a reconnecting client
    feed_keepalive_s: float = 15.0

    # Inbound SMS replies (services/api/sms_inbound.py): Twilio's auth token, and the secret the
    # generic gateway signs with.
    twilio_auth_token: SecretStr | None = None
    sms_inbound_secret: SecretStr | None = None

    # Limits (services/api/limits.py): a registration is a few KB; 1 MiB leaves room.
    api_max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Exports and PDF reports at once, per token and in all: each holds one of the pool's 10
    # connections while its client reads.
    api_streams_per_token: int = Field(default=2, ge=1)
    api_streams_total: int = Field(default=5, ge=1)
    # Live feeds at once (they hold a Kafka reader's queue, not a connection): a few tabs each.
    api_feeds_per_token: int = Field(default=8, ge=1)
    api_feeds_total: int = Field(default=200, ge=1)
