"""The one place coldchain makes a confluent-kafka client (faust makes its own in
``services/kafka/faust_app.py``).

A producer always gets the safety settings every writer of coldchain needs (idempotent,
``acks=all``: no loss, no duplicates from retries), whatever tuning its caller adds. A group
consumer always commits by hand (the consumer loop commits only what was handled) and leaves
its group after the one session timeout of ``KafkaSettings``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer

from services.connections import KafkaSettings

log = logging.getLogger(__name__)

# Last in every producer's configuration, so that no tuning can turn them off.
PRODUCER_SAFETY = {"enable.idempotence": True, "acks": "all"}


def new_producer(kafka: KafkaSettings, **tuning: Any) -> Producer:
    """A producer with ``tuning`` (linger, batching, compression) and the safety settings."""
    return Producer(kafka.kafka_client_config(**tuning, **PRODUCER_SAFETY))


def group_consumer(kafka: KafkaSettings, group_id: str, **tuning: Any) -> Consumer:
    """A member of ``group_id`` that starts a new group at the earliest offset (a new group
    must not miss what came before it) and commits only when told to."""
    return Consumer(kafka.kafka_client_config(**{
        "group.id": group_id,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": kafka.kafka_session_timeout_ms,
        "heartbeat.interval.ms": kafka.kafka_heartbeat_interval_ms,
        **tuning,
        "enable.auto.commit": False,
        "on_commit": _commit_logged,
    }))


def groupless_consumer(kafka: KafkaSettings, **tuning: Any) -> Consumer:
    """A consumer that ``assign()``s its partitions itself, joins no group and never commits
    (the live feed, its replays, the bench's readers)."""
    # librdkafka wants a group.id even for a consumer that never joins: a unique one.
    return Consumer(kafka.kafka_client_config(**{
        "group.id": f"coldchain-reader-{uuid.uuid4().hex[:12]}",
        "auto.offset.reset": "latest",
        "enable.partition.eof": False,
        **tuning,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
    }))


def _commit_logged(error: KafkaError | None, partitions: list[Any]) -> None:
    """An asynchronous commit that failed is logged; the next commit carries its offsets."""
    if error is not None and error.code() != KafkaError._NO_OFFSET:
        log.warning("offset commit failed (%s); the next commit carries it", error)
