"""Ingest's settings: one frozen object, built in main() and passed down."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from services.connections import (
    DatabaseSettings,
    KafkaSettings,
    MetricsAddress,
    MetricsSettings,
    MqttSettings,
    settings_config,
)
from services.logs import LogSettings


class IngestSettings(MqttSettings, KafkaSettings, DatabaseSettings, MetricsSettings, LogSettings):
    model_config = settings_config()
    own_database: ClassVar[str | None] = "ingest"  # COLDCHAIN_INGEST_DATABASE_URL, its own role
    own_metrics: ClassVar[str] = "ingest"

    ingest_client_id: str = "coldchain-ingest-1"
    # Empty: one instance with a plain subscription. A group name: an MQTT 5 shared
    # subscription, every instance in the group gets a share of the load. Plain is the
    # default because Mosquitto 2.0.11 (Debian 12) drops a shared subscription's messages
    # after a broker restart until the subscriber reconnects (tests/chaos).
    ingest_share_group: str = ""
    # The broker's window of unacknowledged messages towards this instance (MQTT 5 Receive
    # Maximum): the messages whose Kafka writes may be under way at once.
    ingest_max_inflight: Annotated[int, Field(ge=1, le=65535)] = 1000
    # How long the Kafka producer gathers records before it sends them. Each message is
    # acknowledged to the broker only once Kafka has it, so this is added to a reading's way
    # in; with 5 ms, single-sample traffic made a produce request every few records and the
    # broker's CPU, not the work, held ingest back (bench/HISTORY.md, session 11).
    ingest_kafka_linger_ms: Annotated[int, Field(ge=0, le=1000)] = 25
    # How long the broker keeps this instance's session (and queues its share of messages)
    # while it is away. An instance removed for good keeps its share until then.
    ingest_session_expiry_s: Annotated[int, Field(ge=0, le=2**32 - 1)] = 7 * 24 * 3600
    ingest_metrics_address: MetricsAddress = ""  # host:port; empty: COLDCHAIN_METRICS_HOST and the port below
    ingest_metrics_port: int = 9101  # 0 = no /metrics endpoint
    ingest_binding_refresh_s: float = 60.0
