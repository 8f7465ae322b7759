"""Shared by the alert service's integration tests: a private outbox schema, and a consumer
group positioned at the log end."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from importlib import resources

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from psycopg.conninfo import make_conninfo
from psycopg.sql import SQL, Identifier

from schemas.topics import ALERTS, ETA, EXCURSIONS
from tests.harness.stack import StackEndpoints


@pytest.fixture(scope="module")
def private_schema(stack: StackEndpoints) -> Iterator[str]:
    """A schema with the outbox tables and a copy of the migration record, so the
    services' own ``migrate()`` finds everything applied and creates nothing."""
    schema = Identifier(f"alerts_e2e_{uuid.uuid4().hex[:10]}")
    folder = resources.files("services.db") / "migrations"
    sql = "\n".join(f.read_text() for f in sorted(folder.iterdir(), key=lambda f: f.name)
                    if f.name.startswith("03") and f.name.endswith(".sql"))
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute(SQL("CREATE SCHEMA {}").format(schema))
        conn.execute(SQL("CREATE TABLE {}.schema_migrations AS TABLE public.schema_migrations").format(schema))
        conn.execute(SQL("SET search_path TO {}").format(schema))
        conn.execute(sql.encode())
    try:
        yield make_conninfo(stack.database_url, options=f"-c search_path={schema.as_string(None)},public")
    finally:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            conn.execute(SQL("DROP SCHEMA {} CASCADE").format(schema))


def _log_ends(consumer: Consumer, topic: str) -> list[TopicPartition]:
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    return [TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
            for p in partitions]


def start_at_log_end(bootstrap: str, group_id: str) -> list[TopicPartition]:
    """Commit the group's offsets at the current end of both topics: the service then reads
    only what is produced from now on, not the shared topics' history. Returns where
    coldchain.alerts ends now."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=_log_ends(consumer, EXCURSIONS.name) + _log_ends(consumer, ETA.name),
                        asynchronous=False)
        return _log_ends(consumer, ALERTS.name)
    finally:
        consumer.close()
