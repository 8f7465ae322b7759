"""The faust app without a broker: agents under ``test_context()``, tables in memory://."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import faust

from schemas.excursion import ExcursionEvent
from schemas.reading import Reading, ReadingBatch
from schemas.shipment import Shipment
from services.excursions.app import (
    SCORE_AGENT,
    SHIPMENTS_AGENT,
    SHIPMENTS_TABLE,
    SILENCE_AGENT,
    STATE_TABLE,
    create_app,
)
from services.excursions.settings import ExcursionSettings
from services.excursions.storage import device_key, read_state, segment_key

T0 = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)
HANGZHOU = (30.2741, 120.1551)
HALIFAX_AIRPORT = (44.8808, -63.5086)
ON_THE_ROAD = (30.7522, 120.7585)  # Jiaxing, between PVG and the buyer: not yet arrived

SHIPMENT = Shipment.model_validate(
    {
        "id": "SHP-COMP-0002",
        "product": "live-lobster",
        "devices": ["TRK-0001"],
        "origin": {"name": "Halifax Stanfield (YHZ)", "lat": HALIFAX_AIRPORT[0], "lon": HALIFAX_AIRPORT[1]},
        "waypoints": [{"name": "Shanghai Pudong (PVG)", "lat": 31.1443, "lon": 121.8083, "mode": "air"}],
        "destination": {"name": "Hangzhou buyer warehouse", "lat": HANGZHOU[0], "lon": HANGZHOU[1], "mode": "road"},
        "packed_at": "2026-11-09T17:00:00Z",
        "deliver_by": "2026-11-11T12:00:00Z",
        "seller": {"name": "Shediac Lobster Co.", "email": "ops@seller.example"},
        "buyer": {"name": "Hangzhou Fresh Ltd.", "email": "qa@buyer.example"},
        "created_at": "2026-11-09T16:00:00Z",
    }
)


def _settings(tmp_path: Path, checkpoint_every: int = 64) -> ExcursionSettings:
    # The bootstrap is never contacted: test_context() feeds the agents directly.
    return ExcursionSettings(
        kafka_bootstrap="127.0.0.1:1",
        excursions_store="memory://",
        excursions_data_dir=tmp_path,
        excursions_checkpoint_every=checkpoint_every,
    )


def _reading(minute: int, temp_c: float, where: tuple[float, float]) -> Reading:
    at = T0 + timedelta(minutes=minute)
    return Reading(
        device_id="TRK-0001",
        time=at,
        shipment_id=SHIPMENT.id,
        temp_c=temp_c,
        lat=where[0],
        lon=where[1],
        received_at=at,
    )


async def _feed(app: faust.App, temps: list[float], where: tuple[float, float]) -> list[ExcursionEvent]:
    events: list[ExcursionEvent] = []
    async with app.agents[SHIPMENTS_AGENT].test_context() as shipments:
        await shipments.put(key=SHIPMENT.id.encode(), value=SHIPMENT.model_dump_json().encode())
    async with app.agents[SCORE_AGENT].test_context(sink=[events.extend]) as score:
        # An unbound reading and a broken message are skipped, not a crash.
        unbound = _reading(0, 20.0, where).model_copy(update={"shipment_id": None})
        await score.put(key=b"device:TRK-0001", value=ReadingBatch(readings=[unbound]).model_dump_json().encode())
        await score.put(key=b"x", value=b"{not json")
        for minute, temp in enumerate(temps):
            value = ReadingBatch(readings=[_reading(minute, temp, where)]).model_dump_json().encode()
            await score.put(key=SHIPMENT.id.encode(), value=value, partition=2)
    return events


async def _score(app: faust.App, readings: list[Reading]) -> list[ExcursionEvent]:
    events: list[ExcursionEvent] = []
    async with app.agents[SCORE_AGENT].test_context(sink=[events.extend]) as score:
        for reading in readings:
            batch = ReadingBatch(readings=[reading])
            await score.put(key=SHIPMENT.id.encode(), value=batch.model_dump_json().encode(), partition=2)
    return events


async def _tick(app: faust.App, now: datetime, partition: int) -> list[ExcursionEvent]:
    events: list[ExcursionEvent] = []
    async with app.agents[SILENCE_AGENT].test_context(sink=[events.extend]) as silence:
        await silence.put(value=json.dumps({"now": now.isoformat()}).encode(), partition=partition)
    return events


def test_a_tarmac_delay_becomes_opened_and_closed_events_and_state_in_the_table(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = create_app(_settings(tmp_path))
        events = await _feed(app, [3.0] * 10 + [9.0] * 40 + [3.0] * 10, HANGZHOU)

        assert [(e.kind, e.step, e.severity) for e in events] == [
            ("temp_high", "opened", "warning"),
            ("temp_high", "closed", "warning"),
        ]
        closed = events[1]
        assert closed.shipment_id == SHIPMENT.id and closed.limits.profile == "live-lobster"
        assert (closed.started_at, closed.ended_at) == (T0 + timedelta(minutes=10), T0 + timedelta(minutes=50))
        assert closed.shipment_mkt_c is not None and 3.0 < closed.shipment_mkt_c < 9.0

        state_table, shipment_table = app.tables[STATE_TABLE], app.tables[SHIPMENTS_TABLE]
        assert isinstance(state_table, faust.Table) and isinstance(shipment_table, faust.Table)
        assert Shipment.model_validate_json(shipment_table[SHIPMENT.id]) == SHIPMENT
        stored = read_state(state_table[SHIPMENT.id], state_table.get)
        assert stored.partition == 2
        assert len(stored.state.devices["TRK-0001"].samples) == 60

    asyncio.run(scenario())


def test_the_silence_timer_opens_sensor_silent_on_the_ground_only(tmp_path: Path) -> None:
    async def scenario() -> None:
        on_ground = create_app(_settings(tmp_path))
        await _feed(on_ground, [3.0] * 10, ON_THE_ROAD)  # last reading at minute 9
        late_enough = T0 + timedelta(minutes=40)

        assert await _tick(on_ground, late_enough, partition=0) == []  # another partition's shipment
        assert await _tick(on_ground, T0 + timedelta(minutes=20), partition=2) == []
        opened = await _tick(on_ground, late_enough, partition=2)
        assert [(e.kind, e.step, e.started_at) for e in opened] == [
            ("sensor_silent", "opened", T0 + timedelta(minutes=9))
        ]
        assert await _tick(on_ground, late_enough + timedelta(minutes=5), partition=2) == []

        at_the_airport = create_app(_settings(tmp_path / "air"))
        await _feed(at_the_airport, [3.0] * 10, HALIFAX_AIRPORT)  # switched off for the flight
        assert await _tick(at_the_airport, late_enough, partition=2) == []

        delivered = create_app(_settings(tmp_path / "delivered"))
        await _feed(delivered, [3.0] * 10, HANGZHOU)  # switched off at the buyer's warehouse
        assert await _tick(delivered, late_enough, partition=2) == []

    asyncio.run(scenario())


def test_a_deleted_shipment_takes_its_excursion_state_with_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = create_app(_settings(tmp_path))
        await _feed(app, [3.0] * 5, HANGZHOU)
        state_table, shipment_table = app.tables[STATE_TABLE], app.tables[SHIPMENTS_TABLE]
        assert isinstance(state_table, faust.Table) and isinstance(shipment_table, faust.Table)
        assert SHIPMENT.id in state_table
        async with app.agents[SHIPMENTS_AGENT].test_context() as shipments:
            await shipments.put(key=SHIPMENT.id.encode(), value=None)
        assert SHIPMENT.id not in state_table and SHIPMENT.id not in shipment_table

    asyncio.run(scenario())


def test_history_lives_in_segments_beside_a_small_device_header_and_late_data_rescores_them(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = create_app(_settings(tmp_path, checkpoint_every=8))
        state_table = app.tables[STATE_TABLE]
        assert isinstance(state_table, faust.Table)
        await _feed(app, [3.0] * 20, HANGZHOU)
        device_header = device_key(SHIPMENT.id, "TRK-0001")
        small_history = len(state_table[device_header])
        # minutes 20-39 missing (in flight), then 80 more readings on the ground
        assert await _score(app, [_reading(minute, 3.0, HANGZHOU) for minute in range(40, 120)]) == []
        assert len(state_table[device_header]) < 2 * small_history  # 100 readings held; the header does not grow

        stored = read_state(state_table[SHIPMENT.id], state_table.get)
        assert list(stored.state.devices) == ["TRK-0001"]
        segments = {segment_key(SHIPMENT.id, "TRK-0001", slot) for slot in stored.slots_of("TRK-0001").slots}
        assert len(segments) == 100 // 8
        assert set(state_table.keys()) == {SHIPMENT.id, device_header} | segments

        # The backlog of the flight: warm, found late, re-scored from the stored segments.
        late = await _score(app, [_reading(minute, 9.0, HANGZHOU) for minute in range(20, 40)])
        # One reading at a time: the first closes the excursion (back in range at minute 40),
        # the rest of the backlog only updates its figures.
        assert late[0].step == "closed" and {e.step for e in late[1:]} == {"updated"}
        assert {(e.id, e.kind, e.found_late) for e in late} == {(late[0].id, "temp_high", True)}
        assert (late[-1].started_at, late[-1].ended_at) == (T0 + timedelta(minutes=20), T0 + timedelta(minutes=40))

        stored = read_state(state_table[SHIPMENT.id], state_table.get)
        device = stored.state.devices["TRK-0001"]
        assert [t for t, _, _ in device.samples] == [(T0 + timedelta(minutes=m)).timestamp() for m in range(120)]
        segments = {segment_key(SHIPMENT.id, "TRK-0001", slot) for slot in stored.slots_of("TRK-0001").slots}
        assert set(state_table.keys()) == {SHIPMENT.id, device_header} | segments  # replaced segments were deleted

        async with app.agents[SHIPMENTS_AGENT].test_context() as shipments:
            await shipments.put(key=SHIPMENT.id.encode(), value=None)
        assert list(state_table.keys()) == []

    asyncio.run(scenario())
