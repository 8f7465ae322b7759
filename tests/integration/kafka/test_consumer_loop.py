"""The one consumer loop on the real broker: a held record waits without holding up the
other partition and keeps its own partition's order (also when the next batch was read
ahead), an unreadable record is handed over and finished with, and what was handled is
committed, so a restart reads nothing again."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from pydantic import BaseModel

from services.connections import KafkaSettings
from services.kafka.clients import group_consumer
from services.kafka.consumer_loop import Batch, ConsumerLoop, LoopSettings, Progress
from tests.harness.stack import StackEndpoints

pytestmark = pytest.mark.integration


class Thing(BaseModel):
    n: int


class Recorder:
    """Handles each record once, except that n < 0 has to wait once before it is handled."""

    def __init__(self, topic: str) -> None:
        self.topics: dict[str, type[BaseModel] | None] = {topic: Thing}
        self.handled: list[int] = []
        self.unreadable: list[int] = []
        self.waited: set[int] = set()
        self.flushes = 0

    async def handle(self, batch: Batch) -> Progress:
        progress = Progress()
        for bad in batch.unreadable:
            self.unreadable.append(int(bad.message.offset() or 0))
            progress.finish(bad.message)
        for record in batch.records:
            if progress.is_held(record.partition):
                continue
            n = record.value.n
            if n < 0 and n not in self.waited:
                self.waited.add(n)
                progress.hold(record.message)
                continue
            self.handled.append(n)
            progress.finish(record.message)
        return progress

    async def before_commit(self) -> None:
        self.flushes += 1


def _topic(bootstrap: str) -> str:
    name = f"test.loop.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])[name].result(timeout=30)
    return name


def _produce(bootstrap: str, topic: str, values: dict[int, list[bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for partition, payloads in values.items():
        for payload in payloads:
            producer.produce(topic, value=payload, partition=partition)
    assert producer.flush(30) == 0


async def _run_until(loop: ConsumerLoop, done: object, timeout_s: float = 60) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not done() and asyncio.get_running_loop().time() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.1)
    stop.set()
    await task
    loop.close()


# One record a batch with read-ahead: the batch fetched while -1 is held holds 3, which must
# be dropped and read again after -1, not handled before it.
@pytest.mark.parametrize(("max_records", "read_ahead"), [(10, False), (10, True), (1, True)])
def test_held_records_wait_alone_and_everything_handled_is_committed(
    stack: StackEndpoints, max_records: int, read_ahead: bool,
) -> None:
    bootstrap = stack.kafka_bootstrap
    topic = _topic(bootstrap)
    _produce(bootstrap, topic, {0: [b'{"n": 1}', b"not json", b'{"n": 2}'],
                                1: [b'{"n": -1}', b'{"n": 3}']})
    kafka = KafkaSettings(kafka_bootstrap=bootstrap)
    group = f"test-loop-{uuid.uuid4().hex[:8]}"
    recorder = Recorder(topic)
    loop = ConsumerLoop(recorder, LoopSettings(max_records=max_records, wait_s=0.2, retry_after_s=0.5,
                                               read_ahead=read_ahead),
                        lambda: group_consumer(kafka, group))

    asyncio.run(_run_until(loop, lambda: len(recorder.handled) == 4))

    assert sorted(recorder.handled) == [-1, 1, 2, 3]
    assert recorder.handled.index(1) < recorder.handled.index(2)
    assert recorder.handled.index(-1) < recorder.handled.index(3)  # held, yet its partition kept order
    assert recorder.unreadable == [1]
    assert recorder.flushes >= 1
    committed = _committed(bootstrap, group, topic)
    assert committed == {0: 3, 1: 2}

    again = Recorder(topic)
    second = ConsumerLoop(again, LoopSettings(max_records=10, wait_s=0.2),
                          lambda: group_consumer(kafka, group))
    asyncio.run(_run_until(second, lambda: False, timeout_s=8))
    assert again.handled == [] and again.unreadable == []


def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        found = consumer.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
        return {tp.partition: tp.offset for tp in found}
    finally:
        consumer.close()
