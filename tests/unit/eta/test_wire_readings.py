"""The ETA processor folds msgspec's readings (schemas/reading_wire.py) exactly as pydantic's."""

from __future__ import annotations

from collections.abc import Sequence

from bench.hot_paths import _shipment_json, backlog
from schemas.reading import ReadingBatch
from schemas.reading_wire import ReadingLike
from services.eta.parameters import EtaParameters
from services.eta.processor import EtaProcessor, JsonObject
from services.kafka.faust_app import readings_of
from services.profiles.catalog import load_profiles


def _folded(decoded: list[Sequence[ReadingLike]]) -> tuple[list[str], JsonObject | None]:
    processor, state, updates = EtaProcessor(EtaParameters(), load_profiles()), None, list[str]()
    shipment = _shipment_json("SHP-LAND-00")
    for readings in decoded:
        step = processor.on_readings(readings, shipment, state)
        assert step is not None
        state = step.state
        updates += [u.model_dump_json() for u in step.updates]
    return updates, state


def test_wire_readings_fold_like_pydantic_readings() -> None:
    records = [raw for raw in backlog() if b"SHP-LAND-00" in raw][:40]
    updates, state = _folded([readings_of(raw) for raw in records])
    expected = _folded([ReadingBatch.model_validate_json(raw).readings for raw in records])
    assert updates
    assert (updates, state) == expected
