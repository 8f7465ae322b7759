"""Viability lost, through the pure ETA core on simulated trips (bench/trips.py).

The demo's failure: the box froze to -3.8 C for 5.7 h during the flight (the tracker silent,
its backlog uploaded shuffled after landing) and the shipment still showed "ok, viability
18.1 h left".
"""

from __future__ import annotations

from datetime import timedelta

from bench.trips import Trip, TripPlan, halifax_to_hangzhou, simulate, steady_temperature, with_warm_spell
from schemas.eta import EtaUpdate
from schemas.reading import Reading
from services.eta.context import make_context
from services.eta.core import apply_reading, apply_readings
from services.eta.parameters import EtaParameters
from services.eta.tracking import EtaState
from services.eta.viability import consumption_rate, used_h
from services.profiles.catalog import load_profiles

PARAMS = EtaParameters(air_departure_handling_h=9.0, air_arrival_handling_h=8.0)
PROFILE = load_profiles()["live-lobster"]
SHIPMENT = halifax_to_hangzhou()
PACKED = SHIPMENT.packed_at
FREEZE_AT = PACKED + timedelta(hours=14)  # in the air: the flight leaves at about 10 h


def _replay(readings: tuple[Reading, ...] | list[Reading]) -> tuple[EtaState, list[EtaUpdate]]:
    context = make_context(SHIPMENT, PROFILE, PARAMS)
    state: EtaState | None = None
    updates: list[EtaUpdate] = []
    for reading in readings:
        state, out = apply_reading(state, reading, context)
        updates.extend(out)
    assert state is not None
    return state, updates


def _frozen_in_flight() -> Trip:
    freezing = with_warm_spell(steady_temperature(), FREEZE_AT, FREEZE_AT + timedelta(hours=5.7), -3.8)
    return simulate(TripPlan(shipment=SHIPMENT, dwell_h=[0.5, 9.0, 8.0], travel_h=[0.7, 16.5, 3.5],
                             temperature=freezing))


def test_a_freeze_in_flight_is_told_as_lost_once_the_backlog_lands_and_stays_lost() -> None:
    trip = _frozen_in_flight()
    state, updates = _replay(trip.readings)
    states = [u.viability_state for u in updates]
    first_lost = states.index("lost")
    assert set(states[:first_lost]) == {"ok"} and set(states[first_lost:]) == {"lost"}
    told = updates[first_lost]
    assert told.kind == "viability" and told.viability_lost_reason == "freezing"
    landed = trip.legs[1].arrived_at
    before_landing, _ = _replay([r for r in trip.readings if r.received_at < landed])
    assert before_landing.ledger.lost is None  # nothing was known while the tracker was silent
    final = updates[-1]
    assert final.viability_lost_reason == "freezing" and final.viability_lost_at is not None
    assert FREEZE_AT < final.viability_lost_at < FREEZE_AT + timedelta(hours=2)
    # The same verdict as from the readings in device-time order.
    in_order, _ = _replay(sorted(trip.readings, key=lambda r: r.time))
    assert state.ledger.lost == in_order.ledger.lost
    assert state.ledger.lost is not None and state.ledger.lost.at == final.viability_lost_at


def test_a_trip_at_half_a_degree_for_forty_hours_stays_ok() -> None:
    ship = halifax_to_hangzhou(deliver_within_h=60)
    trip = simulate(TripPlan(shipment=ship, dwell_h=[0.5, 9.0, 8.0], travel_h=[0.7, 16.5, 5.0],
                             temperature=lambda _: 0.5, sample_min=10.0))
    assert trip.arrival - ship.packed_at > timedelta(hours=39)
    context = make_context(ship, PROFILE, PARAMS)
    state: EtaState | None = None
    updates: list[EtaUpdate] = []
    for reading in trip.readings:
        state, out = apply_reading(state, reading, context)
        updates.extend(out)
    assert updates and {u.viability_state for u in updates} == {"ok"}
    assert not any(u.at_risk for u in updates) and updates[-1].phase == "delivered"


def test_a_state_stored_before_temperature_bands_still_loads_and_counts() -> None:
    trip = simulate(TripPlan(shipment=SHIPMENT, dwell_h=[0.5, 9.0, 8.0], travel_h=[0.7, 16.5, 3.5]))
    readings = trip.readings[:120]
    state, _ = _replay(readings)
    stored = state.model_dump(mode="json")
    ledger = stored["ledger"]
    # The old form: the warmest consumption rate per bucket, no bands, no body, no loss.
    first = ledger.pop("first")
    ledger["peaks"] = {str(first + i): round(consumption_rate(PROFILE.viability, band[1]), 4)
                       for i, band in enumerate(ledger.pop("bands")) if band is not None}
    for new_field in ("body", "lost"):
        ledger.pop(new_field)
    stored["emitted"].pop("viability_state")
    old = EtaState.model_validate(stored)
    assert old.ledger.bands == () and old.ledger.peaks
    until = readings[-1].time
    args = (PROFILE.viability, PACKED, until, PARAMS.viability_bucket_min)
    assert abs(used_h(old.ledger, *args) - used_h(state.ledger, *args)) < 1e-3
    context = make_context(SHIPMENT, PROFILE, PARAMS)
    later, _ = apply_reading(old, trip.readings[200], context)
    assert later.ledger.bands and later.ledger.peaks


def test_an_update_published_before_viability_states_still_reads_as_ok() -> None:
    _, updates = _replay(simulate(TripPlan(shipment=SHIPMENT, dwell_h=[0.5, 9.0, 8.0],
                                           travel_h=[0.7, 16.5, 3.5])).readings[:50])
    old = updates[0].model_dump(mode="json")
    for new_field in ("viability_state", "viability_lost_at", "viability_lost_reason"):
        old.pop(new_field)
    assert EtaUpdate.model_validate(old).viability_state == "ok"


def test_a_record_of_many_readings_forecast_once_loses_nothing_one_by_one_found() -> None:
    """``apply_readings`` (a record's readings folded in, one forecast) ends where folding the
    same readings one at a time ends: the same state, the same loss and, as its last update,
    what the one-by-one fold told last."""
    readings = list(_frozen_in_flight().readings)
    one_by_one, told = _replay(readings)
    context = make_context(SHIPMENT, PROFILE, PARAMS)
    for size in (7, 100, len(readings)):
        state: EtaState | None = None
        batched: list[EtaUpdate] = []
        for start in range(0, len(readings), size):
            state, out = apply_readings(state, readings[start:start + size], context)
            batched.extend(out)
        assert state == one_by_one, size
        assert state.ledger.lost is not None and state.ledger.lost.reason == "freezing"
        assert batched and batched[-1].viability_state == told[-1].viability_state == "lost"
        assert batched[-1].eta == told[-1].eta and len(batched) <= len(told)
