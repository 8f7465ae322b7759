"""The processor scores msgspec's readings (schemas/reading_wire.py) exactly as pydantic's: the
same events, the same stored state, on a landed backlog (out of order, through a freeze)."""

from __future__ import annotations

from collections.abc import Sequence

from bench.hot_paths import backlog, score_records
from schemas.reading import ReadingBatch
from schemas.reading_wire import ReadingLike, WireReading
from services.kafka.faust_app import readings_of


def _scored(decoded: list[Sequence[ReadingLike]]) -> tuple[list[str], dict[str, bytes]]:
    events, table = score_records(decoded)
    return [e.model_dump_json() for e in events], table


def test_wire_readings_score_like_pydantic_readings() -> None:
    records = [raw for raw in backlog() if b"SHP-LAND-00" in raw][:48]
    wire = [readings_of(raw) for raw in records]
    assert all(isinstance(r, WireReading) for readings in wire for r in readings)
    events, table = _scored(wire)
    expected_events, expected_table = _scored([ReadingBatch.model_validate_json(raw).readings for raw in records])
    assert any('"critical"' in e for e in expected_events)
    assert events == expected_events
    assert table == expected_table
