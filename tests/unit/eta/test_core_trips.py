"""The pure ETA core on simulated trips with known truth.

Truck Halifax -> YHZ, flight YHZ -> PVG with a silent air leg (no fixes in flight, the
backlog uploaded after landing), truck PVG -> Hangzhou; deliver_by 48 h after packing.
The model's planned handling matches the carrier's plan (9 h before the flight, 8 h
after); the true flight takes 2 h longer than the speed prior says.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from bench.trips import (
    Trip,
    TripPlan,
    halifax_to_hangzhou,
    simulate,
    steady_temperature,
    with_warm_spell,
)
from schemas.eta import EtaUpdate
from schemas.reading import Reading
from services.eta.context import EtaContext, make_context
from services.eta.core import apply_reading, current_forecast
from services.eta.forecast import Forecast
from services.eta.parameters import EtaParameters
from services.eta.tracking import EtaState
from services.profiles.catalog import load_profiles

PARAMS = EtaParameters(air_departure_handling_h=9.0, air_arrival_handling_h=8.0)
PROFILE = load_profiles()["live-lobster"]
SHIPMENT = halifax_to_hangzhou()
DWELL = [0.5, 9.0, 8.0]
TRAVEL = [0.7, 16.5, 3.5]
TARMAC_H = 12.0


def _context() -> EtaContext:
    return make_context(SHIPMENT, PROFILE, PARAMS)


def _replay(readings: list[Reading] | tuple[Reading, ...]) -> tuple[EtaState, list[EtaUpdate]]:
    state: EtaState | None = None
    updates: list[EtaUpdate] = []
    for reading in readings:
        state, out = apply_reading(state, reading, _context())
        updates.extend(out)
    assert state is not None
    return state, updates


def _received_by(trip: Trip, time: datetime) -> list[Reading]:
    return [r for r in trip.readings if r.received_at <= time]


@pytest.fixture(scope="module")
def normal() -> Trip:
    return simulate(TripPlan(shipment=SHIPMENT, dwell_h=DWELL, travel_h=TRAVEL))


@pytest.fixture(scope="module")
def delayed_silent() -> Trip:
    """Loaded on time, then 12 h on the tarmac with the tracker already silent."""
    return simulate(TripPlan(shipment=SHIPMENT, dwell_h=[0.5, 9.0 + TARMAC_H, 8.0],
                             travel_h=TRAVEL, silent_before_air_h=1.0 + TARMAC_H))


@pytest.fixture(scope="module")
def delayed_live() -> Trip:
    """The same delay, but the tracker reports from the terminal until it goes silent at
    takeoff (automatic flight mode)."""
    return simulate(TripPlan(shipment=SHIPMENT, dwell_h=[0.5, 9.0 + TARMAC_H, 8.0],
                             travel_h=TRAVEL, silent_before_air_h=0.1))


def test_normal_trip_is_never_at_risk_and_ends_delivered_on_time(normal: Trip) -> None:
    state, updates = _replay(normal.readings)
    assert updates, "a trip produces forecasts"
    assert {u.kind for u in updates} == {"eta"}
    assert not any(u.at_risk for u in updates)
    last = updates[-1]
    assert last.phase == "delivered"
    assert [leg.state for leg in last.legs] == ["done", "done", "done"]
    assert abs(last.eta - normal.arrival) <= timedelta(minutes=10)
    assert last.remaining_km == 0
    assert 0 < last.viability_used_h < PROFILE.viability.budget_h


def test_silent_air_leg_is_forecast_from_the_schedule_until_the_backlog_corrects_it(
    normal: Trip,
) -> None:
    flight = normal.legs[1]
    in_flight = [r for r in normal.readings
                 if flight.departed_at <= r.time < flight.arrived_at]
    assert in_flight and all(r.lat is None for r in in_flight), "no fixes in flight"
    assert min(r.received_at for r in in_flight) > flight.arrived_at, "uploaded after landing"

    before_landing, _ = _replay(_received_by(normal, flight.arrived_at - timedelta(hours=1)))
    seen = current_forecast(before_landing, _context())
    route = _context().route
    yhz_arrival = before_landing.stops[1].first_in
    assert yhz_arrival is not None
    planned = route.arrival_after(1, yhz_arrival + timedelta(
        hours=route.stops[1].dwell_h + route.legs[1].planned_h))
    assert abs(seen.eta - planned) <= timedelta(minutes=1)
    assert seen.leg_index == 1

    after_landing, _ = _replay(_received_by(normal, flight.arrived_at + timedelta(minutes=40)))
    corrected = current_forecast(after_landing, _context())
    assert corrected.leg_index == 2 and corrected.phase == "dwelling"
    landed = corrected.legs[1].arrived_at
    assert landed is not None and abs(landed - flight.arrived_at) <= timedelta(minutes=15)
    assert abs(corrected.eta - normal.arrival) < abs(seen.eta - normal.arrival)
    assert abs(corrected.eta - normal.arrival) <= timedelta(minutes=30)


def test_tarmac_delay_with_a_silent_tracker_raises_late_once_the_backlog_shows_it(
    delayed_silent: Trip,
) -> None:
    assert delayed_silent.arrival > SHIPMENT.deliver_by
    _, updates = _replay(delayed_silent.readings)
    raised = [u for u in updates if u.kind == "at_risk"]
    assert raised, "the delayed flight must raise at_risk"
    first = raised[0]
    assert "late" in first.risk_reasons and first.at_risk
    assert first.eta > SHIPMENT.deliver_by
    assert first.risk_episode_id is not None
    # Nothing could be known before the silent tracker woke up after landing.
    assert first.event_time > delayed_silent.legs[1].departed_at
    assert updates[-1].at_risk and updates[-1].phase == "delivered"


def test_tarmac_delay_seen_live_raises_late_before_the_flight_leaves(
    delayed_live: Trip,
) -> None:
    _, updates = _replay(delayed_live.readings)
    raised = [u for u in updates if u.kind == "at_risk"]
    assert raised and "late" in raised[0].risk_reasons
    assert raised[0].event_time < delayed_live.legs[1].departed_at
    assert raised[0].leg_index == 1 and raised[0].phase == "dwelling"


def _final(readings: list[Reading], context: EtaContext) -> tuple[EtaState, Forecast]:
    state: EtaState | None = None
    for reading in readings:
        state, _ = apply_reading(state, reading, context)
    assert state is not None
    return state, current_forecast(state, context)


@pytest.mark.parametrize("seed", [1, 2])
def test_final_forecast_is_the_same_whatever_the_arrival_order(
    delayed_silent: Trip, seed: int
) -> None:
    # Any order at all: temperatures are re-scored up to lateness_h behind the newest
    # reading, so make that horizon cover the whole trip for a full shuffle.
    context = make_context(SHIPMENT, PROFILE, PARAMS.model_copy(update={"lateness_h": 72.0}))
    in_order = sorted(delayed_silent.readings, key=lambda r: r.time)
    shuffled = list(delayed_silent.readings)
    random.Random(seed).shuffle(shuffled)
    state_a, forecast_a = _final(in_order, context)
    state_b, forecast_b = _final(shuffled, context)
    assert forecast_b.eta == forecast_a.eta
    assert forecast_b.legs == forecast_a.legs
    assert forecast_b.viability_used_h == pytest.approx(forecast_a.viability_used_h, abs=1e-6)
    assert forecast_b.viability_remaining_at_eta_h == pytest.approx(
        forecast_a.viability_remaining_at_eta_h, abs=1e-6
    )
    assert state_b.stops == state_a.stops
    assert state_b.recent_fixes == state_a.recent_fixes


def test_store_and_forward_arrival_order_converges_within_the_default_horizon(
    delayed_silent: Trip,
) -> None:
    in_order = sorted(delayed_silent.readings, key=lambda r: r.time)
    assert list(delayed_silent.readings) != in_order, "the backlog arrives out of order"
    _, forecast_a = _final(in_order, _context())
    _, forecast_b = _final(list(delayed_silent.readings), _context())
    assert (forecast_b.eta, forecast_b.legs) == (forecast_a.eta, forecast_a.legs)
    assert forecast_b.viability_used_h == pytest.approx(forecast_a.viability_used_h, abs=1e-6)


def test_a_replayed_reading_changes_nothing(normal: Trip) -> None:
    context = _context()
    state: EtaState | None = None
    for reading in normal.readings[:200]:
        state, _ = apply_reading(state, reading, context)
    assert state is not None
    again, updates = apply_reading(state, normal.readings[150], context)
    assert again == state and updates == []


def test_warm_spell_raises_viability_risk_and_cooling_recovers_it() -> None:
    packed = SHIPMENT.packed_at
    warm = with_warm_spell(steady_temperature(), packed + timedelta(hours=3),
                           packed + timedelta(hours=7), 18.0)
    trip = simulate(TripPlan(shipment=SHIPMENT, dwell_h=DWELL, travel_h=TRAVEL,
                             temperature=warm))
    _, updates = _replay(trip.readings)
    risky = [u for u in updates if u.kind in ("at_risk", "recovered")]
    assert [u.kind for u in risky] == ["at_risk", "recovered"]
    raised, recovered = risky
    assert raised.risk_reasons == ["viability"] and raised.viability_remaining_at_eta_h < 0
    assert raised.temp_c == 18.0
    assert recovered.viability_remaining_at_eta_h > 0 and not recovered.at_risk
    assert recovered.risk_episode_id == raised.risk_episode_id
    assert packed + timedelta(hours=3) <= raised.event_time < packed + timedelta(hours=7)
    assert recovered.event_time >= packed + timedelta(hours=7)


def test_eta_updates_only_when_the_eta_moves_past_the_threshold_or_a_leg_changes(
    delayed_live: Trip,
) -> None:
    _, updates = _replay(delayed_live.readings)
    threshold = timedelta(minutes=PARAMS.eta_threshold_min)
    for before, after in zip(updates, updates[1:], strict=False):
        if after.kind != "eta":
            continue
        leg_changed = [leg.state for leg in before.legs] != [leg.state for leg in after.legs]
        assert leg_changed or abs(after.eta - before.eta) > threshold
    assert len(updates) < len(delayed_live.readings) / 5


def test_update_and_state_survive_a_json_round_trip(normal: Trip) -> None:
    state, updates = _replay(normal.readings[:300])
    assert EtaState.model_validate(state.model_dump(mode="json")) == state
    for update in updates:
        assert EtaUpdate.model_validate_json(update.model_dump_json()) == update
