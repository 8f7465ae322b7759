"""The faust app without a broker: agents under ``test_context()``, tables in memory://."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import faust

from bench.trips import TripPlan, halifax_to_hangzhou, simulate
from schemas.eta import EtaUpdate
from schemas.reading import ReadingBatch
from schemas.shipment import Shipment
from services.eta.app import SHIPMENTS_TABLE, STATE_TABLE, create_app
from services.eta.settings import EtaSettings
from services.eta.tracking import EtaState

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
