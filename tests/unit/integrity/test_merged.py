"""How the chain writer lines up a batch with a late device's stored readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.integrity.chain import ChainedReading
from services.integrity.store import MISSING, _merged

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def reading(device_id: str, minute: int, temp_c: float = 3.0) -> ChainedReading:
    return ChainedReading(T0 + timedelta(minutes=minute), device_id, None, None, temp_c, None, None, None, None,
                          None)


def test_a_late_devices_new_readings_fall_between_its_stored_ones_and_a_stored_one_is_not_taken_twice() -> None:
    candidates = [reading("A", 1), reading("A", 2),  # no stored readings: all new
                  reading("B", 1), reading("B", 2, temp_c=9.9), reading("B", 4)]  # B has 2, 3 stored
    stored = {"B": [(reading("B", 2), b"h2"), (reading("B", 3), MISSING)]}
    rows, positions, starts = _merged(candidates, stored, {"A": b"a0", "B": b"b0"})
    assert [(r.device_id, r.time.minute, r.temp_c, h) for r, h in rows] == [
        ("A", 1, 3.0, None), ("A", 2, 3.0, None),
        ("B", 1, 3.0, None), ("B", 2, 3.0, b"h2"), ("B", 3, 3.0, MISSING), ("B", 4, 3.0, None)]
    # the candidate at B 2 is stored already (its 9.9 is not what the table holds): no position
    assert positions == [0, 1, 2, None, None, 4]
    assert starts == {"A": b"a0", "B": b"b0"}


def test_re_linking_starts_at_the_first_new_reading_and_a_device_with_none_is_left_alone() -> None:
    candidates = [reading("B", 2), reading("B", 5), reading("C", 1)]  # B 2 and all of C are stored
    stored = {"B": [(reading("B", 2), b"h2"), (reading("B", 3), MISSING), (reading("B", 4), b"h4"),
                    (reading("B", 6), b"h6")],
              "C": [(reading("C", 1), b"c1")]}
    rows, positions, starts = _merged(candidates, stored, {"B": b"b0", "C": b"c0"})
    assert [(r.time.minute, h) for r, h in rows] == [(5, None), (6, b"h6")]
    assert positions == [1, None]
    assert starts == {"B": b"h4", "C": b"c0"}  # B follows its last stored hash before minute 5
