"""The processor scores msgspec's readings (schemas/reading_wire.py) exactly as pydantic's: the
same events, the same stored state, on a landed backlog (out of order, through a freeze)."""

from __future__ import annotations

from collections.abc import Sequence

from bench.hot_paths import backlog
from schemas.reading import ReadingBatch
from schemas.reading_wire import ReadingLike, WireReading
from services.excursions.processor import ExcursionProcessor
from services.kafka.faust_app import readings_of
from services.profiles.catalog import load_profiles


def _scored(decoded: list[Sequence[ReadingLike]]) -> tuple[list[object], dict[str, bytes]]:
    processor, table, events = ExcursionProcessor(load_profiles()), dict[str, bytes](), list[object]()
    for readings in decoded:
        key = readings[0].shipment_id
        assert key is not None
        step = processor.on_readings(readings, None, table.get(key), 0, table.get)
        if step is not None:
            table.update(step.puts)
            for deleted in step.deletes:
                table.pop(deleted, None)
            events += [e.model_dump_json() for e in step.events]
    return events, table


def test_wire_readings_score_like_pydantic_readings() -> None:
    records = [raw for raw in backlog() if b"SHP-LAND-00" in raw][:48]
    wire = [readings_of(raw) for raw in records]
    assert all(isinstance(r, WireReading) for readings in wire for r in readings)
    events, table = _scored(wire)
    expected_events, expected_table = _scored([ReadingBatch.model_validate_json(raw).readings for raw in records])
    assert any('"critical"' in e for e in expected_events)  # type: ignore[operator]
    assert events == expected_events
    assert table == expected_table
