"""The consumer loop's pure parts: what it commits after a handler's progress, and how it
decodes a fetched batch."""

from __future__ import annotations

from confluent_kafka import Message
from pydantic import BaseModel

from services.kafka.consumer_loop import Progress, decode


class Thing(BaseModel):
    n: int


def _message(partition: int, offset: int, value: bytes = b'{"n": 1}', topic: str = "t") -> Message:
    return Message(topic=topic, partition=partition, offset=offset, value=value)


def _commits(progress: Progress) -> dict[tuple[str, int], int]:
    return {(tp.topic, tp.partition): tp.offset for tp in progress.to_commit()}


def test_a_finished_partition_commits_the_offset_after_its_last_record() -> None:
    progress = Progress()
    for offset in (3, 4, 5):
        progress.finish(_message(0, offset))
    progress.finish(_message(1, 9))
    assert _commits(progress) == {("t", 0): 6, ("t", 1): 10}


def test_a_held_record_is_where_its_partition_resumes_even_with_later_records_finished() -> None:
    progress = Progress()
    progress.finish(_message(0, 7))  # an unreadable record behind the held one, finished first
    progress.hold(_message(0, 5))
    progress.hold(_message(0, 6))  # only the first hold of a partition counts
    progress.finish(_message(1, 2))
    assert progress.is_held(("t", 0)) and not progress.is_held(("t", 1))
    assert _commits(progress) == {("t", 0): 5, ("t", 1): 3}


def test_all_of_a_batch_finishes_its_records_and_its_unreadable_ones() -> None:
    batch = decode([_message(0, 1), _message(0, 2, b"not json"), _message(2, 4, b'{"n": "x"}')], {"t": Thing})
    assert [r.value for r in batch.records] == [Thing(n=1)]
    assert [u.message.offset() for u in batch.unreadable] == [2, 4]
    assert _commits(Progress.all_of(batch)) == {("t", 0): 3, ("t", 2): 5}


def test_a_topic_without_a_model_is_handed_over_as_raw_bytes() -> None:
    batch = decode([_message(0, 1, b"anything", topic="raw")], {"raw": None})
    assert [r.value for r in batch.records] == [b"anything"] and batch.unreadable == []
