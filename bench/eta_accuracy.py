"""ETA accuracy on simulated trips with known arrival times.

Generates a deterministic set of trips (``bench.trips``) over four routes out of Nova
Scotia, replays each through the pure ETA core in the order the readings reach the
processor (store-and-forward batches late and shuffled), and measures the ETA the system
showed at 25 %, 50 % and 75 % of each trip (by time from packing to true arrival): the
mean absolute error in hours, and as a percentage of the time then remaining.

The truth is drawn around, not at, the model's priors (see ``TRUTH`` in the output), so
the error measures how fast tracking corrects the plan, for this simulator only: it is
not a claim about real carriers. Each arrival airport has a clearance range of its own
(``ARRIVAL_DWELL_BY_AIRPORT_H``; together they span the pooled range). The headline
figures use parameters calibrated (``services.eta.calibration``, as ``coldchain eta
calibrate`` does) on a training history drawn with another seed, never on the trips
evaluated; the priors-only figures and the earlier pooled-clearance truths are reported
beside them on the same trips. Run ``python -m bench.eta_accuracy``; writes
``bench/results/eta_accuracy.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.trips import (
    HALIFAX_PLANT,
    HANGZHOU,
    PVG,
    YHZ,
    Trip,
    TripPlan,
    shipment,
    simulate,
    steady_temperature,
)
from schemas.shipment import Place, ShipmentIn, Stop
from services.eta.calibration import Calibration, CompletedTrip, calibrate, stop_visits, untrained
from services.eta.context import EtaContext, make_context
from services.eta.core import apply_reading, current_forecast
from services.eta.geo import great_circle_km
from services.eta.parameters import EtaParameters
from services.eta.tracking import EtaState
from services.profiles.catalog import load_profiles

CHECKPOINTS = (0.25, 0.50, 0.75)
TARGET_PCT_AT_HALF = 5.0
RESULTS = Path(__file__).resolve().parent / "results" / "eta_accuracy.json"

SHEDIAC_POUND = Place(name="Shediac lobster pound", lat=46.2196, lon=-64.5414)
CGO = Stop(name="Zhengzhou Xinzheng (CGO)", lat=34.5197, lon=113.8408, mode="air")
ZHENGZHOU = Stop(name="Zhengzhou seafood market", lat=34.7466, lon=113.6253, mode="road")
ANC = Stop(name="Anchorage (ANC) fuel stop", lat=61.1744, lon=-149.9964, mode="air")
CSX = Stop(name="Changsha Huanghua (CSX)", lat=28.1892, lon=113.2196, mode="air")
CHANGSHA = Stop(name="Changsha buyer warehouse", lat=28.2282, lon=112.9388, mode="road")
BOSTON = Stop(name="Boston seafood distributor", lat=42.3467, lon=-71.0351, mode="road")

ROUTES: dict[str, tuple[Place, tuple[Stop, ...]]] = {
    "HFX-YHZ-PVG-Hangzhou": (HALIFAX_PLANT, (YHZ, PVG, HANGZHOU)),
    "Shediac-YHZ-CGO-Zhengzhou": (SHEDIAC_POUND, (YHZ, CGO, ZHENGZHOU)),
    "HFX-YHZ-ANC-CSX-Changsha": (HALIFAX_PLANT, (YHZ, ANC, CSX, CHANGSHA)),
    "Shediac-Boston (truck)": (SHEDIAC_POUND, (BOSTON,)),
}

# The true world, drawn uniformly in these ranges (the model's priors in brackets).
TRUTH = {
    "origin_loading_h": (0.3, 1.0),  # [0.5]
    "road_path_factor": (1.2, 1.4),  # [1.3]
    "road_speed_kmh": (55.0, 80.0),  # [65]
    "border_or_rest_stop_h": (0.0, 1.5),  # trucks over 500 km only [not modelled]
    "air_departure_dwell_h": (3.0, 5.5),  # truck arrival to wheels-off [4.0]
    "air_route_factor": (1.01, 1.05),  # [1.0]
    "air_cruise_kmh": (780.0, 860.0),  # plus taxi [block speed 800]
    "air_taxi_h": (0.3, 0.6),
    "air_transit_h": (1.2, 2.2),  # fuel stop [1.5]
    "air_arrival_dwell_h": (2.5, 6.0),  # landing to truck departure [4.0]; by airport below
}
# Clearance and handling after landing differ by airport (inspection queues, distance to the
# cold store): each airport draws from a range of its own, together spanning the range above.
ARRIVAL_DWELL_BY_AIRPORT_H = {
    PVG.name: (3.5, 6.0),
    CGO.name: (2.5, 4.5),
    CSX.name: (3.0, 5.5),
}


def _draw(rng: random.Random, name: str) -> float:
    low, high = TRUTH[name]
    return rng.uniform(low, high)


# How a booked flight's real departure lags its STD (share of flights, hours late), and how
# far the real block time strays from the booked one: the schedule is a forecast too.
DEPARTURE_DELAY_H = ((0.60, (0.0, 0.25)), (0.30, (0.25, 1.0)), (0.10, (1.0, 4.0)))
BLOCK_TIME_ERROR_H = (-0.33, 0.42)


def _departure_delay_h(rng: random.Random) -> float:
    pick = rng.random()
    for share, (low, high) in DEPARTURE_DELAY_H:
        if pick < share:
            return rng.uniform(low, high)
        pick -= share
    return 0.0


def _on_five_minutes(time: datetime) -> datetime:
    return time.replace(minute=time.minute - time.minute % 5, second=0, microsecond=0)


def _with_bookings(ship: ShipmentIn, dwell: Sequence[float], travel: Sequence[float],
                   rng: random.Random) -> ShipmentIn:
    """The same shipment with each air leg booked: an STD and STA the truth strays from."""
    stops = [*ship.waypoints, ship.destination]
    booked = []
    clock = ship.packed_at
    for stop, dwell_h, travel_h in zip(stops, dwell, travel, strict=True):
        departed = clock + timedelta(hours=dwell_h)
        clock = departed + timedelta(hours=travel_h)
        if stop.mode != "air":
            booked.append(stop)
            continue
        std = _on_five_minutes(departed - timedelta(hours=_departure_delay_h(rng)))
        block_h = travel_h - rng.uniform(*BLOCK_TIME_ERROR_H)
        sta = _on_five_minutes(std + timedelta(hours=block_h))
        booked.append(stop.model_copy(update={"scheduled_departure": std, "scheduled_arrival": sta}))
    return ship.model_copy(update={"waypoints": booked[:-1], "destination": booked[-1]})


def plan_trip(index: int, route_name: str, seed: int, booked: bool = True,
              pooled_clearance: bool = False) -> TripPlan:
    """One trip's truth; ``pooled_clearance`` draws every airport's clearance from one range."""
    rng = random.Random(f"{seed}:{index}")
    origin, stops = ROUTES[route_name]
    packed_at = datetime(2026, 11, 9, 18, 0, tzinfo=UTC) + timedelta(hours=rng.uniform(0, 72))
    ship = shipment(f"SHP-BENCH-{index:04d}", origin, stops, packed_at, 48.0)
    places = [origin, *stops]
    dwell, travel = [], []
    for leg_index, stop in enumerate(stops):
        start = places[leg_index]
        arriving = stops[leg_index - 1].mode if leg_index else None
        gc_km = great_circle_km(start.lat, start.lon, stop.lat, stop.lon)
        if arriving is None:
            dwell.append(_draw(rng, "origin_loading_h"))
        elif arriving == "air" and stop.mode == "air":
            dwell.append(_draw(rng, "air_transit_h"))
        elif arriving == "air":
            low, high = (TRUTH["air_arrival_dwell_h"] if pooled_clearance
                         else ARRIVAL_DWELL_BY_AIRPORT_H[places[leg_index].name])
            dwell.append(rng.uniform(low, high))
        elif stop.mode == "air":
            dwell.append(_draw(rng, "air_departure_dwell_h"))
        else:
            dwell.append(0.5)
        if stop.mode == "air":
            cruise = gc_km * _draw(rng, "air_route_factor") / _draw(rng, "air_cruise_kmh")
            travel.append(cruise + _draw(rng, "air_taxi_h"))
        else:
            road_km = gc_km * _draw(rng, "road_path_factor")
            hours = road_km / _draw(rng, "road_speed_kmh")
            if road_km > 500:
                hours += _draw(rng, "border_or_rest_stop_h")
            travel.append(hours)
    if booked:  # a separate stream: the truth is the same with and without bookings
        ship = _with_bookings(ship, dwell, travel, random.Random(f"{seed}:{index}:booking"))
    return TripPlan(
        shipment=ship,
        dwell_h=dwell,
        travel_h=travel,
        temperature=steady_temperature(base_c=rng.uniform(1.5, 4.0)),
        sample_min=rng.choice([2.0, 5.0, 10.0]),
        seed=seed * 1000 + index,
    )


@dataclass(frozen=True)
class Sample:
    route: str
    checkpoint: float
    error_h: float
    remaining_h: float
    plan_only_error_h: float  # the ETA of the first forecast, before any tracking


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def evaluate(trip: Trip, context: EtaContext, route: str) -> list[Sample]:
    """The ETA shown at each checkpoint: state after every reading received by then."""
    packed_at, arrival = trip.shipment.packed_at, trip.arrival
    checkpoints = [packed_at + (arrival - packed_at) * share for share in CHECKPOINTS]
    samples: list[Sample] = []
    state: EtaState | None = None
    first_eta: datetime | None = None
    readings = iter(trip.readings)
    pending = next(readings, None)
    for share, wall_time in zip(CHECKPOINTS, checkpoints, strict=True):
        while pending is not None and pending.received_at <= wall_time:
            state, _ = apply_reading(state, pending, context)
            if first_eta is None:
                first_eta = current_forecast(state, context).eta
            pending = next(readings, None)
        if state is None or first_eta is None:
            continue
        eta = current_forecast(state, context).eta
        samples.append(
            Sample(
                route=route,
                checkpoint=share,
                error_h=abs(_hours(eta - arrival)),
                remaining_h=_hours(arrival - wall_time),
                plan_only_error_h=abs(_hours(first_eta - arrival)),
            )
        )
    return samples


def _summary(samples: Sequence[Sample]) -> dict[str, float]:
    errors = [s.error_h for s in samples]
    pct = [100 * s.error_h / s.remaining_h for s in samples]
    return {
        "trips": len(samples),
        "mae_h": round(statistics.fmean(errors), 3),
        "mean_remaining_h": round(statistics.fmean(s.remaining_h for s in samples), 3),
        "mae_pct_of_remaining": round(statistics.fmean(pct), 2),
        "median_pct_of_remaining": round(statistics.median(pct), 2),
        "p90_pct_of_remaining": round(sorted(pct)[int(0.9 * (len(pct) - 1))], 2),
        "plan_only_mae_h": round(statistics.fmean(s.plan_only_error_h for s in samples), 3),
    }


@dataclass(frozen=True)
class Scenario:
    """Which truths: the seed, and one clearance range for every airport or one each."""

    seed: int
    pooled_clearance: bool = False


def _trips(trips_per_route: int, scenario: Scenario, booked: bool | None) -> list[tuple[str, Trip]]:
    """The simulated trips, by route; ``booked=None`` books every other one (a history)."""
    trips = []
    index = 0
    for route_name in ROUTES:
        for _ in range(trips_per_route):
            with_booking = index % 2 == 0 if booked is None else booked
            plan = plan_trip(index, route_name, scenario.seed, with_booking,
                             scenario.pooled_clearance)
            trips.append((route_name, simulate(plan)))
            index += 1
    return trips


def completed_trip(trip: Trip, params: EtaParameters) -> CompletedTrip:
    """What history keeps of a delivered trip: its stop visits, from the stored fixes."""
    route = make_context(trip.shipment, load_profiles()["live-lobster"], untrained(params)).route
    fixes = [(r.time, r.lat, r.lon) for r in trip.readings if r.lat is not None and r.lon is not None]
    return CompletedTrip(shipment=trip.shipment, visits=stop_visits(route, fixes))


def learn(trips_per_route: int, scenario: Scenario, base: EtaParameters) -> Calibration:
    """Calibrate on a training history (half of it booked) drawn with another seed."""
    history = [completed_trip(trip, base) for _, trip in _trips(trips_per_route, scenario, None)]
    return calibrate(history, base)


def _replay_all(trips: Sequence[tuple[str, Trip]], params: EtaParameters) -> list[Sample]:
    profile = load_profiles()["live-lobster"]
    samples: list[Sample] = []
    for route_name, trip in trips:
        samples.extend(evaluate(trip, make_context(trip.shipment, profile, params), route_name))
    return samples


def _by_checkpoint(samples: Sequence[Sample]) -> dict[str, dict[str, float]]:
    return {f"{int(share * 100)}%": _summary([s for s in samples if s.checkpoint == share])
            for share in CHECKPOINTS}


def _half(samples: Sequence[Sample]) -> float:
    return _summary([s for s in samples if s.checkpoint == 0.5])["mae_pct_of_remaining"]


def run(trips_per_route: int, seed: int, train_seed: int, train_trips_per_route: int) -> dict[str, object]:
    if train_seed == seed:
        raise ValueError("calibrate on trips of another seed than the evaluation's")
    priors = EtaParameters()
    calibration = learn(train_trips_per_route, Scenario(train_seed), priors)
    learned = calibration.parameters
    booked = _trips(trips_per_route, Scenario(seed), True)
    unbooked = _trips(trips_per_route, Scenario(seed), False)
    samples = _replay_all(booked, learned)
    unbooked_samples = _replay_all(unbooked, learned)
    before = _replay_all(booked, priors)
    before_unbooked = _replay_all(unbooked, priors)
    # The earlier truths, one clearance range for all airports: learning per place can only
    # find the pooled median there.
    pooled_learned = learn(train_trips_per_route, Scenario(train_seed, True), priors).parameters
    pooled = _trips(trips_per_route, Scenario(seed, True), True)
    pooled_unbooked = _trips(trips_per_route, Scenario(seed, True), False)
    by_route = {
        route: _by_checkpoint([s for s in samples if s.route == route]) for route in ROUTES
    }
    half = _by_checkpoint(samples)["50%"]["mae_pct_of_remaining"]
    return {
        "trips": len(booked),
        "seed": seed,
        "train_seed": train_seed,
        "train_trips": train_trips_per_route * len(ROUTES),
        "parameters": learned.model_dump(),
        "calibration_samples": {"dwell": calibration.dwell_samples, "legs": calibration.leg_samples},
        "truth_ranges": TRUTH,
        "arrival_dwell_by_airport_h": ARRIVAL_DWELL_BY_AIRPORT_H,
        "departure_delay_h": DEPARTURE_DELAY_H,
        "block_time_error_h": BLOCK_TIME_ERROR_H,
        "overall": _by_checkpoint(samples),
        "without_bookings": _by_checkpoint(unbooked_samples),
        "priors_only": {"booked": _by_checkpoint(before), "without_bookings": _by_checkpoint(before_unbooked)},
        "pct_at_50_by_truths": {
            "per_airport_clearance": {
                "priors_booked": _half(before), "priors_unbooked": _half(before_unbooked),
                "calibrated_booked": _half(samples), "calibrated_unbooked": _half(unbooked_samples)},
            "pooled_clearance": {
                "priors_booked": _half(_replay_all(pooled, priors)),
                "priors_unbooked": _half(_replay_all(pooled_unbooked, priors)),
                "calibrated_booked": _half(_replay_all(pooled, pooled_learned)),
                "calibrated_unbooked": _half(_replay_all(pooled_unbooked, pooled_learned))},
        },
        "by_route": by_route,
        "target": {"pct_of_remaining_at_50": TARGET_PCT_AT_HALF, "met": half <= TARGET_PCT_AT_HALF},
    }


def _print_rows(rows: dict[str, dict[str, float]]) -> None:
    for share, row in rows.items():
        print(f"{share:>4} {row['mae_h']:>7.2f} {row['mean_remaining_h']:>12.2f} "
              f"{row['mae_pct_of_remaining']:>10.2f} {row['median_pct_of_remaining']:>9.2f} "
              f"{row['p90_pct_of_remaining']:>7.2f} {row['plan_only_mae_h']:>16.2f}")


def _print(result: dict[str, Any]) -> None:
    print(f"ETA accuracy over {result['trips']} simulated trips (seed {result['seed']}), "
          f"calibrated on {result['train_trips']} others (seed {result['train_seed']})")
    print(f"{'at':>4} {'MAE h':>7} {'remaining h':>12} {'MAE % rem':>10} {'median %':>9} "
          f"{'p90 %':>7} {'plan-only MAE h':>16}")
    _print_rows(result["overall"])
    print("the same trips with no flight bookings (no schedule to follow until the backlog lands):")
    _print_rows(result["without_bookings"])
    print("MAE % of remaining at 50 %, priors only vs calibrated, on the same truths:")
    for truths, row in result["pct_at_50_by_truths"].items():
        print(f"  {truths:<22} booked {row['priors_booked']:5.2f} -> {row['calibrated_booked']:5.2f}"
              f"   unbooked {row['priors_unbooked']:5.2f} -> {row['calibrated_unbooked']:5.2f}")
    target = result["target"]
    verdict = "met" if target["met"] else "NOT met"
    print(f"target: MAE within {TARGET_PCT_AT_HALF} % of remaining time at 50 %: {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trips-per-route", type=int, default=25)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--train-seed", type=int, default=7)
    parser.add_argument("--train-trips-per-route", type=int, default=40)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = run(args.trips_per_route, args.seed, args.train_seed, args.train_trips_per_route)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    _print(result)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
