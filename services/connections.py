"""Connection settings shared by the services, as pydantic-settings mixins.

Each service composes its own frozen ``Settings`` from these. Values come from
``COLDCHAIN_*`` environment variables, then ``.env``; a service reads nothing else. The
``coldchain`` command adds the running local stack's settings to its environment (see
``tools/devtools/stack/layout.py``), so with nothing set, everything it starts talks to that stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar
from urllib.parse import unquote, urlsplit

from pydantic import AfterValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.metrics_server import ListenAddress, metrics_address, parse_listen_address


def settings_config() -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix="COLDCHAIN_",
        env_file=".env",
        extra="ignore",
        frozen=True,
    )


@dataclass(frozen=True)
class MqttEndpoint:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool


def parse_mqtt_url(url: str) -> MqttEndpoint:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {parts.scheme!r}")
    tls = parts.scheme == "mqtts"
    return MqttEndpoint(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


class MqttSettings(BaseSettings):
    model_config = settings_config()

    mqtt_url: SecretStr = SecretStr("mqtt://127.0.0.1:11883")

    @field_validator("mqtt_url")
    @classmethod
    def _valid_mqtt(cls, value: SecretStr) -> SecretStr:
        parse_mqtt_url(value.get_secret_value())
        return value

    @property
    def mqtt(self) -> MqttEndpoint:
        return parse_mqtt_url(self.mqtt_url.get_secret_value())


class KafkaSettings(BaseSettings):
    model_config = settings_config()

    kafka_bootstrap: str = "127.0.0.1:19092"
    kafka_config: SecretStr = SecretStr("{}")  # JSON object of extra client properties
    # A crashed consumer's partitions move to the rest of its group after this, rather than
    # librdkafka's 45 s: every consumer group of coldchain, faust's included.
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000)

    @property
    def kafka_heartbeat_interval_ms(self) -> int:
        """A fifth of the session timeout (at least 500 ms): a few missed heartbeats, not one,
        make a member silent."""
        return max(500, self.kafka_session_timeout_ms // 5)

    @field_validator("kafka_config")
    @classmethod
    def _valid_json_object(cls, value: SecretStr) -> SecretStr:
        parsed = json.loads(value.get_secret_value() or "{}")
        if not isinstance(parsed, dict):
            raise ValueError("COLDCHAIN_KAFKA_CONFIG must be a JSON object")
        return value

    def kafka_client_config(self, **overrides: Any) -> dict[str, Any]:
        """librdkafka properties: bootstrap, then COLDCHAIN_KAFKA_CONFIG, then the caller's."""
        extra = json.loads(self.kafka_config.get_secret_value() or "{}")
        return {"bootstrap.servers": self.kafka_bootstrap, **extra, **overrides}


class DatabaseSettings(BaseSettings):
    """``COLDCHAIN_DATABASE_URL`` is the owner's (migrations, the operator's commands). A
    service names its own least-privilege role in ``own_database`` (services/db/roles.py):
    its ``COLDCHAIN_<OWN>_DATABASE_URL`` wins when set, else it falls back to the owner's."""

    model_config = settings_config()

    database_url: SecretStr = SecretStr("postgresql://coldchain@127.0.0.1:55432/coldchain")
    own_database: ClassVar[str | None] = None  # "sink": COLDCHAIN_SINK_DATABASE_URL
    ingest_database_url: SecretStr | None = None
    sink_database_url: SecretStr | None = None
    alert_database_url: SecretStr | None = None
    api_database_url: SecretStr | None = None
    retention_database_url: SecretStr | None = None
    auditor_database_url: SecretStr | None = None  # read-only: reports, verify, eta calibrate

    @property
    def dsn(self) -> str:
        own = getattr(self, f"{self.own_database}_database_url") if self.own_database else None
        return (own or self.database_url).get_secret_value()


class AuditorDatabaseSettings(DatabaseSettings):
    """The read-only commands (`coldchain report`, `verify`, `eta calibrate`)."""

    own_database: ClassVar[str | None] = "auditor"


def _valid_listen_address(value: str) -> str:
    if value.strip():
        parse_listen_address(value)
    return value


# ``host:port`` (``0.0.0.0:9104`` for every interface), or empty for the host and port variables.
MetricsAddress = Annotated[str, AfterValidator(_valid_listen_address)]


class MetricsSettings(BaseSettings):
    """Where a service's /metrics, /healthz and /readyz listen (services/metrics_server.py).

    A service names itself in ``own_metrics`` and declares its ``<own>_metrics_address``
    (``COLDCHAIN_<OWN>_METRICS_ADDRESS``, ``host:port``) and ``<own>_metrics_port`` (the
    earlier ``COLDCHAIN_<OWN>_METRICS_PORT``, with ``COLDCHAIN_METRICS_HOST``; 0 = off). The
    address wins when set."""

    model_config = settings_config()
    own_metrics: ClassVar[str]  # "ingest": ingest_metrics_address, ingest_metrics_port

    metrics_host: str = "127.0.0.1"

    @property
    def metrics_listen(self) -> ListenAddress | None:
        return metrics_address(getattr(self, f"{self.own_metrics}_metrics_address"), self.metrics_host,
                               getattr(self, f"{self.own_metrics}_metrics_port"))
