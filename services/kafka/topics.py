"""Create coldchain's topics up front, with one partition count.

faust creates only its internal topics; a source topic auto-created by the broker would get
``num.partitions`` and clash with the agents' ``topic_partitions`` (faust raises PartitionsMismatch).
A processor passes its internal topics too (``services.kafka.faust_app.internal_topics``): made
by faust at start-up on a fresh broker, they came after its consumer's first metadata, and each
table write found its changelog with 0 partitions (PartitionsMismatch again, the agent crashed
on every batch until the metadata was refreshed minutes later).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.topics import ALL_KAFKA_TOPICS, PARTITIONS, SHIPMENTS

COMPACTED = {SHIPMENTS.name}
COMPACT = {"cleanup.policy": "compact"}  # a topic config: keep each key's last record


def ensure_topics(client_config: Mapping[str, str], replication: int = 1, timeout_s: float = 30,
                  internal: Mapping[str, Mapping[str, str]] | None = None) -> list[str]:
    """Creates the missing topics, coldchain's and ``internal`` (name: topic config), all with
    ``PARTITIONS`` partitions; returns the names it created."""
    admin = AdminClient(dict(client_config))
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    configs: dict[str, Mapping[str, str]] = {
        topic.name: COMPACT if topic.name in COMPACTED else {} for topic in ALL_KAFKA_TOPICS
    }
    configs.update(internal or {})
    wanted = [
        NewTopic(name, num_partitions=PARTITIONS, replication_factor=replication, config=dict(config))
        for name, config in configs.items()
        if name not in existing
    ]
    if not wanted:
        return []
    created = []
    for name, future in admin.create_topics(wanted, operation_timeout=timeout_s).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
    _wait_for_leaders(admin, created, timeout_s)
    return created


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout_s: float) -> None:
    """A topic just created has no partition leaders for a moment (on a fresh broker, the first
    offsets request then fails with NOT_LEADER_FOR_PARTITION): return once every partition has one."""
    deadline = time.monotonic() + timeout_s
    while names and time.monotonic() < deadline:
        topics = admin.list_topics(timeout=timeout_s).topics
        if all(name in topics and topics[name].error is None and topics[name].partitions
               and all(p.leader >= 0 and p.error is None for p in topics[name].partitions.values())
               for name in names):
            return
        time.sleep(0.2)
    if names:
        raise KafkaException(f"partition leaders of {', '.join(names)} not elected within {timeout_s:.0f} s")
