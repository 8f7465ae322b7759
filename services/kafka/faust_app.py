"""The one way coldchain builds a faust App, shared by the stream processors."""

from __future__ import annotations

from pathlib import Path

import faust

from schemas.topics import PARTITIONS
from services.connections import KafkaSettings
from services.kafka.credentials import broker_credentials


def new_faust_app(
    app_id: str, kafka: KafkaSettings, store: str, datadir: Path, replication: int, table_value_serializer: str
) -> faust.App:
    return faust.App(
        app_id,
        broker=[f"kafka://{host.strip()}" for host in kafka.kafka_bootstrap.split(",")],
        broker_credentials=broker_credentials(kafka.kafka_client_config()),
        store=store,
        datadir=str(datadir),
        topic_partitions=PARTITIONS,
        topic_replication_factor=replication,
        web_enabled=False,
        # A SIGKILLed worker's partitions move on after this, not faust's default 60 s.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        key_serializer="raw",
        value_serializer="raw",
        table_key_serializer="raw",
        table_value_serializer=table_value_serializer,
    )
