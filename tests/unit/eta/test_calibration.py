"""Learning dwell and leg timing from completed trips (the pure estimator), on simulated
trips whose truth is known: clearance at PVG takes about 5 h, not the 4 h prior."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from bench.trips import Trip, TripPlan, halifax_to_hangzhou, simulate
from services.eta.calibration import CompletedTrip, calibrate, is_complete, stop_visits, untrained
from services.eta.context import make_context
from services.eta.core import apply_reading, current_forecast
from services.eta.parameters import EtaParameters, LegTiming
from services.eta.route import build_route
from services.eta.tracking import EtaState
from services.profiles.catalog import load_profiles

PRIORS = EtaParameters()
PROFILE = load_profiles()["live-lobster"]
PVG = "Shanghai Pudong (PVG)"
FLIGHT = "Halifax Stanfield (YHZ) -> Shanghai Pudong (PVG)"
WAKE_H = 10 / 60  # the simulated tracker wakes 10 minutes after landing


def _trip(index: int, pvg_dwell_h: float) -> Trip:
    rng = random.Random(index)
    ship = halifax_to_hangzhou(shipment_id=f"SHP-CAL-{index:03d}")
    return simulate(TripPlan(shipment=ship, dwell_h=[0.5, 4.0, pvg_dwell_h],
                             travel_h=[0.7, rng.uniform(15.0, 15.6), 3.4], seed=index))


def _history(trip: Trip) -> CompletedTrip:
    route = build_route(trip.shipment, untrained(PRIORS))
    fixes = [(r.time, r.lat, r.lon) for r in trip.readings if r.lat is not None and r.lon is not None]
    return CompletedTrip(shipment=trip.shipment, visits=stop_visits(route, fixes))


@pytest.fixture(scope="module")
def training() -> list[CompletedTrip]:
    rng = random.Random(42)
    return [_history(_trip(i, rng.uniform(4.8, 5.2))) for i in range(7)]


def test_dwell_and_leg_timing_are_learned_as_the_tracker_shows_them(
    training: list[CompletedTrip],
) -> None:
    learned = calibrate(training, PRIORS).parameters
    # First fix after the tracker wakes to the last fix before the truck leaves the airport.
    assert learned.place_dwell_h[PVG] == pytest.approx(5.0 - WAKE_H, abs=0.25)
    # Silent from an hour before wheels-off until it wakes: the flight looks ~1.2 h longer
    # than wheels-off to landing (15-15.6 h) over the 800 km/h prior (about 14.4 h).
    flight = build_route(training[0].shipment, PRIORS).legs[1]
    assert learned.leg_timing[FLIGHT].extra_h == pytest.approx(15.3 + 1 + WAKE_H - flight.planned_h,
                                                               abs=0.4)
    assert learned.leg_timing[FLIGHT].booked_extra_h == 0  # no booked flight in the history
    assert calibrate(training, PRIORS).dwell_samples[PVG] == len(training)


def test_too_few_trips_learn_nothing_and_bad_minimums_are_refused(
    training: list[CompletedTrip],
) -> None:
    few = calibrate(training[:2], PRIORS, min_trips=3)
    assert few.parameters.place_dwell_h == {} and few.parameters.leg_timing == {}
    assert few.dwell_samples[PVG] == 2
    with pytest.raises(ValueError, match="min_trips"):
        calibrate(training, PRIORS, min_trips=0)


def test_an_undelivered_trip_is_not_history(training: list[CompletedTrip]) -> None:
    trip = _trip(99, 9.0)
    landed = trip.legs[1].arrived_at + timedelta(hours=2)
    route = build_route(trip.shipment, PRIORS)
    early = [(r.time, r.lat, r.lon) for r in trip.readings if r.lat is not None and r.time < landed]
    unfinished = CompletedTrip(shipment=trip.shipment, visits=stop_visits(route, early))
    assert not is_complete(unfinished.visits)
    assert calibrate([*training, unfinished], PRIORS).parameters == calibrate(training, PRIORS).parameters


def test_visits_do_not_depend_on_the_order_fixes_come_in() -> None:
    trip = _trip(5, 5.0)
    route = build_route(trip.shipment, PRIORS)
    fixes = [(r.time, r.lat, r.lon) for r in trip.readings if r.lat is not None and r.lon is not None]
    shuffled = list(fixes)
    random.Random(3).shuffle(shuffled)
    visits = stop_visits(route, fixes)
    assert visits == stop_visits(route, shuffled)
    assert all(v.first_in is not None and v.last_in is not None for v in visits)


def test_learned_parameters_forecast_a_held_out_trip_better_in_flight(
    training: list[CompletedTrip],
) -> None:
    learned = calibrate(training, PRIORS).parameters
    trip = _trip(50, 5.1)
    mid_flight = trip.legs[1].departed_at + timedelta(hours=7)
    errors = {}
    for name, params in (("priors", PRIORS), ("learned", learned)):
        context = make_context(trip.shipment, PROFILE, params)
        state: EtaState | None = None
        for reading in trip.readings:
            if reading.received_at <= mid_flight:
                state, _ = apply_reading(state, reading, context)
        assert state is not None
        errors[name] = abs(current_forecast(state, context).eta - trip.arrival)
    assert errors["learned"] < timedelta(minutes=30) < errors["priors"]


def test_learned_values_change_the_plan_of_a_route() -> None:
    ship = halifax_to_hangzhou()
    std = ship.packed_at + timedelta(hours=6)
    pvg = ship.waypoints[1].model_copy(update={"scheduled_departure": std,
                                              "scheduled_arrival": std + timedelta(hours=15)})
    booked = ship.model_copy(update={"waypoints": [ship.waypoints[0], pvg]})
    learned = PRIORS.model_copy(update={
        "place_dwell_h": {PVG: 5.5},
        "leg_timing": {FLIGHT: LegTiming(extra_h=1.0, booked_extra_h=0.5, departure_offset_h=-0.8)}})
    plain, timed = build_route(ship, PRIORS), build_route(ship, learned)
    assert timed.stops[2].dwell_h == 5.5 and plain.stops[2].dwell_h == PRIORS.air_arrival_handling_h
    assert timed.legs[1].planned_h == pytest.approx(plain.legs[1].planned_h + 1.0)
    flight = build_route(booked, learned).legs[1]
    assert flight.planned_h == pytest.approx(15.5)
    assert flight.departure_after(ship.packed_at) == std - timedelta(hours=0.8)
    missed = std - timedelta(hours=1)  # inside the 2 h acceptance cut-off: the dwell applies
    assert flight.departure_after(missed) == missed + timedelta(hours=timed.stops[1].dwell_h)
