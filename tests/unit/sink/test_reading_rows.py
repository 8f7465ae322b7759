"""The sink's COPY rows of a consumed batch: one per (device, time), the first that came, in
the chain's order (device by code point, then time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.reading import Reading, ReadingBatch
from schemas.reading_wire import ReadingRecord
from services.sink.writers import reading_rows

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def _reading(device_id: str, minute: int, temp_c: float) -> Reading:
    return Reading(device_id=device_id, time=T0 + timedelta(minutes=minute), temp_c=temp_c, received_at=T0)


def _record(*readings: Reading) -> bytes:
    return ReadingBatch(readings=list(readings)).model_dump_json().encode()


def test_rows_are_in_chain_order_and_the_first_of_a_duplicate_is_kept() -> None:
    records = [ReadingRecord.model_validate_json(_record(_reading("TRK-b", 3, 1.0), _reading("TRK-b", 1, 1.0))),
               ReadingRecord.model_validate_json(_record(_reading("TRK-B", 2, 1.0))),
               ReadingRecord.model_validate_json(_record(_reading("TRK-b", 1, 9.9), _reading("TRK-b", 2, 1.0)))]
    tools = [ReadingBatch(readings=[_reading("TRK-a", 5, 1.0)]), ReadingBatch(readings=[_reading("TRK-B", 2, 7.7)])]
    rows = reading_rows([*records, *tools])
    assert [(row[1], row[0]) for row in rows] == [
        ("TRK-B", T0 + timedelta(minutes=2)),  # "B" < "a" < "b" by code point, as COLLATE "C"
        ("TRK-a", T0 + timedelta(minutes=5)),
        ("TRK-b", T0 + timedelta(minutes=1)),
        ("TRK-b", T0 + timedelta(minutes=2)),
        ("TRK-b", T0 + timedelta(minutes=3)),
    ]
    assert rows[0][4] == 1.0 and rows[2][4] == 1.0  # the first of each (device, time), as ON CONFLICT DO NOTHING
