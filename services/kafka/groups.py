"""Consumer groups positioned at the end of the log (a test session, a demo run, a bench)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

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
        _commit(consumer, offsets)


_COORDINATOR_NOT_READY = {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                          KafkaError.COORDINATOR_NOT_AVAILABLE}


def _commit(consumer: Consumer, offsets: list[TopicPartition], within_s: float = 60.0) -> None:
    """Commits, waiting out a group coordinator that is not there yet: on a broker just
    started, ``__consumer_offsets`` is still being created and the first commits fail with
    NOT_COORDINATOR (a bench on a fresh stack stopped there)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
            return
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            waiting = isinstance(error, KafkaError) and (error.code() in _COORDINATOR_NOT_READY or error.retriable())
            if not waiting or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


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
