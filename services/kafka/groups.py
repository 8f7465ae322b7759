"""Consumer groups positioned at the end of the log (a test session, a demo run)."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, TopicPartition

from schemas.topics import ALL_KAFKA_TOPICS


def commit_log_end(client_config: dict[str, Any] | str, group: str) -> None:
    """A new (or long idle) group would replay whole topics — every earlier run's readings on
    a long-lived stack: start it where they end now."""
    config = {"bootstrap.servers": client_config} if isinstance(client_config, str) else client_config
    consumer = Consumer({**config, "group.id": group, "enable.auto.commit": False})
    try:
        offsets = []
        for topic in ALL_KAFKA_TOPICS:
            for partition in consumer.list_topics(topic.name, timeout=10).topics[topic.name].partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic.name, partition), timeout=10)
                offsets.append(TopicPartition(topic.name, partition, high))
        consumer.commit(offsets=offsets, asynchronous=False)
    finally:
        consumer.close()
