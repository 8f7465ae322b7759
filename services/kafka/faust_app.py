"""The one way coldchain builds a faust App, shared by the stream processors."""

from __future__ import annotations

from pathlib import Path

import faust

from schemas.topics import PARTITIONS
from services.connections import KafkaSettings
from services.kafka.credentials import broker_credentials

PRODUCER_BATCH_BYTES = 512 * 1024  # below the broker's 1 MB request limit
PRODUCER_LINGER_S = 0.005  # a few ms of batching, against hundreds of small produce requests a second


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
        # Every table write is a changelog record. With faust's defaults (16 KB batches, no
        # linger) a partition's batch holds a few state headers, and the producer buffer,
        # which sends one record at a time, waits a broker round trip whenever one fills:
        # under 1,000 readings/s that, not the CPU, held the excursion worker back.
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        producer_linger=PRODUCER_LINGER_S,
        key_serializer="raw",
        value_serializer="raw",
        table_key_serializer="raw",
        table_value_serializer=table_value_serializer,
    )
