"""Consumer groups positioned at the end of the log (a test session, a demo run, a bench)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from schemas.topics import ALL_KAFKA_TOPICS


@contextmanager
def _group_consumer(client_config: dict[str, Any] | str, group: str) -> Iterator[Consumer]:
    """A consumer of ``group`` that never commits by itself (it only reads or sets offsets)."""
    config = {"bootstrap.servers": client_config} if isinstance(client_config, str) else client_config
    consumer = Consumer({**config, "group.id": group, "enable.auto.commit": False})
    try:
        yield consumer
    finally:
        consumer.close()


def commit_log_end(client_config: dict[str, Any] | str, group: str, topics: Iterable[str] | None = None) -> None:
    """A new (or long idle) group would replay whole topics — every earlier run's readings on
    a long-lived stack: start it where they end now, on ``topics`` (default: all of ours)."""
    names = [topic.name for topic in ALL_KAFKA_TOPICS] if topics is None else list(topics)
    with _group_consumer(client_config, group) as consumer:
        offsets = []
        for name in names:
            for partition in consumer.list_topics(name, timeout=10).topics[name].partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=10)
                offsets.append(TopicPartition(name, partition, high))
        consumer.commit(offsets=offsets, asynchronous=False)


def group_lag(client_config: dict[str, Any] | str, group: str, topic: str) -> int:
    """Records of ``topic`` the group has not committed yet (a partition it never committed
    counts from the log's start)."""
    with _group_consumer(client_config, group) as consumer:
        numbers = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        partitions = [TopicPartition(topic, number) for number in numbers]
        lag = 0
        for committed in consumer.committed(partitions, timeout=10):
            low, high = consumer.get_watermark_offsets(committed, timeout=10)
            lag += high - (committed.offset if committed.offset >= 0 else low)
        return lag
