"""How the sink shares a consumed batch among its database connections."""

from __future__ import annotations

from dataclasses import dataclass

from services.kafka.consumer_loop import Record
from services.sink.store import shared_out


@dataclass(frozen=True)
class _Message:
    """The part of a consumed Kafka message that sharing reads (topic, partition, offset, value)."""

    _topic: str
    _partition: int
    _offset: int
    _value: bytes

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value


def _records(layout: dict[tuple[str, int], list[int]]) -> list[Record]:
    """Records interleaved across partitions, as a fetch returns them: sizes in bytes per offset."""
    records = []
    longest = max(len(sizes) for sizes in layout.values())
    for offset in range(longest):
        for (topic, partition), sizes in layout.items():
            if offset < len(sizes):
                records.append(Record(_Message(topic, partition, offset, b"x" * sizes[offset]), None))  # type: ignore[arg-type]
    return records


def test_a_partition_stays_whole_and_in_order_in_one_group() -> None:
    layout = {("coldchain.readings", p): [100 + p] * (p + 2) for p in range(6)} | {("coldchain.eta", 0): [10, 10]}
    records = _records(layout)
    groups = shared_out(records, 2)
    assert len(groups) == 2
    assert sorted(id(r) for g in groups for r in g) == sorted(id(r) for r in records)
    for partition in layout:
        holding = [g for g in groups if any(r.partition == partition for r in g)]
        assert len(holding) == 1
        assert [r.offset for r in holding[0] if r.partition == partition] == list(range(len(layout[partition])))


def test_groups_are_balanced_by_bytes_and_none_is_empty() -> None:
    records = _records({("t", 0): [1000], ("t", 1): [600], ("t", 2): [500], ("t", 3): [100]})
    sizes = sorted(sum(len(r.message.value()) for r in g) for g in shared_out(records, 2))
    assert sizes == [1100, 1100]
    assert len(shared_out(records[:1], 3)) == 1  # one partition: one connection used
    assert shared_out([], 2) == []
