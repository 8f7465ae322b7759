"""The faust app without a broker: agents under ``test_context()``, tables in memory://."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import faust
import pytest

from bench.trips import TripPlan, halifax_to_hangzhou, simulate
from schemas.eta import EtaUpdate
from schemas.reading import ReadingBatch
from schemas.reading_wire import decode_readings
from schemas.shipment import Shipment
from services.eta import app as eta_app
from services.eta.app import PENDING_TABLE, SHIPMENTS_TABLE, STATE_TABLE, create_app
from services.eta.settings import EtaSettings
from services.eta.tracking import EtaState
from services.kafka.stream_metrics import HoldingStreamMetrics

SHIPMENT = Shipment(
    **halifax_to_hangzhou("SHP-COMP-0001").model_dump(),
    created_at=halifax_to_hangzhou().packed_at - timedelta(hours=1),
)


def _settings(tmp_path: Path) -> EtaSettings:
    # The bootstrap is never contacted: test_context() feeds the agents directly.
    return EtaSettings(kafka_bootstrap="127.0.0.1:1", eta_store="memory://",
                       eta_data_dir=tmp_path, eta_threshold_min=15)


async def _run(app: faust.App) -> tuple[list[EtaUpdate], EtaState]:
    trip = simulate(TripPlan(shipment=SHIPMENT, dwell_h=[0.5, 9.0, 8.0],
                             travel_h=[0.7, 16.5, 3.5]))
    updates: list[EtaUpdate] = []
    async with app.agents["eta-shipments"].test_context() as shipments:
        await shipments.put(key=SHIPMENT.id.encode(), value=SHIPMENT.model_dump_json().encode())
    async with app.agents["eta-forecast"].test_context(sink=[updates.extend]) as forecast:
        # An unbound reading is skipped, not a crash.
        unbound = trip.readings[0].model_copy(update={"shipment_id": None})
        await forecast.put(key=b"device:TRK-0001", value=ReadingBatch(readings=[unbound]).model_dump_json().encode())
        await forecast.put(key=b"x", value=b"{not json")
        for reading in trip.readings:
            batch = ReadingBatch(readings=[reading])
            await forecast.put(key=SHIPMENT.id.encode(), value=batch.model_dump_json().encode())
    state_table, shipment_table = app.tables[STATE_TABLE], app.tables[SHIPMENTS_TABLE]
    assert isinstance(state_table, faust.Table) and isinstance(shipment_table, faust.Table)
    assert shipment_table[SHIPMENT.id]["id"] == SHIPMENT.id
    state = EtaState.model_validate(state_table[SHIPMENT.id])
    return updates, state


def test_readings_become_eta_updates_and_json_state_in_the_table(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = create_app(_settings(tmp_path))
        updates, state = await _run(app)
        assert updates and all(u.shipment_id == SHIPMENT.id for u in updates)
        assert updates[0].kind == "eta" and updates[-1].phase == "delivered"
        assert not any(u.at_risk for u in updates)
        assert state.shipment_id == SHIPMENT.id
        assert state.emitted is not None and state.emitted.eta == updates[-1].eta

    asyncio.run(scenario())


def test_a_record_that_comes_before_its_shipment_is_forecast_once_the_shipment_arrives(tmp_path: Path) -> None:
    """Ingest binds from the registry, which can be ahead of the shipments topic: a landed
    message (one record) read before the worker knows its shipment is held, not lost."""
    async def scenario() -> None:
        app = create_app(_settings(tmp_path))
        trip = simulate(TripPlan(shipment=SHIPMENT, dwell_h=[0.5, 9.0, 8.0], travel_h=[0.7, 16.5, 3.5]))
        early: list[EtaUpdate] = []
        async with app.agents["eta-forecast"].test_context(sink=[early.extend]) as forecast:
            batch = ReadingBatch(readings=list(trip.readings[:12]))
            await forecast.put(key=SHIPMENT.id.encode(), value=batch.model_dump_json().encode())
        assert early == []
        late: list[EtaUpdate] = []
        async with app.agents["eta-shipments"].test_context(sink=[late.extend]) as shipments:
            await shipments.put(key=SHIPMENT.id.encode(), value=SHIPMENT.model_dump_json().encode())
        assert [u.kind for u in late] == ["eta"] and late[0].shipment_id == SHIPMENT.id
        state = app.tables[STATE_TABLE][SHIPMENT.id]
        assert EtaState.model_validate(state).emitted is not None

    asyncio.run(scenario())


def _early_records(trip_readings: list, size: int) -> list[bytes]:
    return [ReadingBatch(readings=list(trip_readings[i:i + size])).model_dump_json().encode()
            for i in range(0, len(trip_readings), size)]


def test_held_readings_wait_in_a_changelogged_table_that_the_next_owner_releases(tmp_path: Path) -> None:
    """Readings read before their shipment's record, then a rebalance (or a restart): the
    worker that takes the partition over recovers the pending table from its changelog, as
    it recovers the others, and forecasts them when the shipment's record comes."""
    async def scenario() -> None:
        first = create_app(_settings(tmp_path / "first"))
        trip = simulate(TripPlan(shipment=SHIPMENT, dwell_h=[0.5, 9.0, 8.0], travel_h=[0.7, 16.5, 3.5]))
        async with first.agents["eta-forecast"].test_context(sink=[]) as forecast:
            for raw in _early_records(trip.readings[:12], 5):
                await forecast.put(key=SHIPMENT.id.encode(), value=raw)
        held = first.tables[PENDING_TABLE][SHIPMENT.id]
        assert json.loads(json.dumps(held)) == held  # JSON, as the changelog carries it
        assert sum(len(decode_readings(record.encode())) for record in held) == 12

        metrics = HoldingStreamMetrics("eta")
        next_owner = create_app(_settings(tmp_path / "next"), metrics=metrics)
        next_owner.tables[PENDING_TABLE].data[SHIPMENT.id] = held  # what changelog recovery puts in the store
        updates: list[EtaUpdate] = []
        async with next_owner.agents["eta-shipments"].test_context(sink=[updates.extend]) as shipments:
            await shipments.put(key=SHIPMENT.id.encode(), value=SHIPMENT.model_dump_json().encode())
        assert [u.kind for u in updates] == ["eta"]
        state = EtaState.model_validate(next_owner.tables[STATE_TABLE][SHIPMENT.id])
        assert state.emitted is not None
        assert SHIPMENT.id not in next_owner.tables[PENDING_TABLE]
        assert _sample(metrics, "coldchain_eta_readings_held") == 0

    asyncio.run(scenario())


def test_the_hold_is_bounded_per_shipment_and_in_shipments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shipment's held readings keep to PENDING_BYTES (its oldest go), and no more than
    PENDING_SHIPMENTS shipments wait (a further one's readings go); each drop is counted."""
    monkeypatch.setattr(eta_app, "PENDING_BYTES", 3_000)
    monkeypatch.setattr(eta_app, "PENDING_SHIPMENTS", 2)

    async def scenario() -> None:
        metrics = HoldingStreamMetrics("eta")
        app = create_app(_settings(tmp_path), metrics=metrics)
        trip = simulate(TripPlan(shipment=SHIPMENT, dwell_h=[0.5, 9.0, 8.0], travel_h=[0.7, 16.5, 3.5]))
        readings = list(trip.readings[:40])
        async with app.agents["eta-forecast"].test_context(sink=[]) as forecast:
            for raw in _early_records(readings, 4):
                await forecast.put(key=SHIPMENT.id.encode(), value=raw)
            for n in (1, 2):
                other = [r.model_copy(update={"shipment_id": f"SHP-OTHER-{n}"}) for r in readings[:4]]
                await forecast.put(key=f"SHP-OTHER-{n}".encode(),
                                   value=ReadingBatch(readings=other).model_dump_json().encode())
        pending = app.tables[PENDING_TABLE]
        held = [r for record in pending[SHIPMENT.id] for r in decode_readings(record.encode())]
        assert sum(map(len, pending[SHIPMENT.id])) <= 3_000
        assert 0 < len(held) < 40 and [r.time for r in held] == [r.time for r in readings[-len(held):]]
        assert "SHP-OTHER-1" in pending and "SHP-OTHER-2" not in pending
        dropped = _sample(metrics, "coldchain_eta_readings_dropped_total")
        assert dropped == 40 - len(held) + 4
        assert _sample(metrics, "coldchain_eta_readings_held") == len(held) + 4

    asyncio.run(scenario())


def _sample(metrics: HoldingStreamMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None, name
    return value
