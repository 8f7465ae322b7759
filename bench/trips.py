"""A small deterministic trip simulator with known truth, for the ETA tests and bench.

A ``TripPlan`` says what really happens: how long the shipment dwells at each stop, how
long each leg takes, the temperatures, and how the tracker reports. ``simulate`` turns it
into the ``Reading`` stream the ETA processor would see, each with ``received_at`` (when
it reaches the processor), plus the true departure and arrival times.

Tracker behaviour modelled: one sample every ``sample_min`` with a temperature and, when
GPS is available, a fix; live samples arrive within a minute; before an air leg the
tracker goes silent once loaded (``silent_before_air_h`` before wheels-off) until
``wake_after_landing_min`` after landing: no fixes in that window, temperatures are
logged and uploaded as one batch in shuffled order when it wakes up.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from schemas.reading import Reading
from schemas.shipment import Party, Place, ShipmentIn, Stop

TemperatureProfile = Callable[[datetime], float]

HALIFAX_PLANT = Place(name="Halifax packing plant", lat=44.6488, lon=-63.5752)
YHZ = Stop(name="Halifax Stanfield (YHZ)", lat=44.8808, lon=-63.5086, mode="road")
PVG = Stop(name="Shanghai Pudong (PVG)", lat=31.1443, lon=121.8083, mode="air")
HANGZHOU = Stop(name="Hangzhou buyer warehouse", lat=30.2741, lon=120.1551, mode="road")


def shipment(
    shipment_id: str,
    origin: Place,
    stops: Sequence[Stop],
    packed_at: datetime,
    deliver_within_h: float,
    device_id: str = "TRK-0001",
) -> ShipmentIn:
    return ShipmentIn(
        id=shipment_id,
        devices=[device_id],
        origin=origin,
        waypoints=list(stops[:-1]),
        destination=stops[-1],
        packed_at=packed_at,
        deliver_by=packed_at + timedelta(hours=deliver_within_h),
        seller=Party(name="Shediac Lobster Co."),
        buyer=Party(name="Hangzhou Fresh Ltd."),
    )


def halifax_to_hangzhou(
    shipment_id: str = "SHP-TEST-0001",
    packed_at: datetime = datetime(2026, 11, 9, 18, 0, tzinfo=UTC),
    deliver_within_h: float = 48.0,
) -> ShipmentIn:
    """Truck Halifax -> YHZ, flight YHZ -> PVG, truck PVG -> Hangzhou warehouse."""
    return shipment(shipment_id, HALIFAX_PLANT, [YHZ, PVG, HANGZHOU], packed_at,
                    deliver_within_h)


def steady_temperature(base_c: float = 2.5, swing_c: float = 0.6) -> TemperatureProfile:
    """A gel-packed box: a slow drift around ``base_c``."""

    def profile(time: datetime) -> float:
        hours = time.timestamp() / 3600
        return round(base_c + swing_c * math.sin(hours / 5.0), 2)

    return profile


def with_warm_spell(
    profile: TemperatureProfile, start: datetime, end: datetime, temp_c: float
) -> TemperatureProfile:
    def warmed(time: datetime) -> float:
        return temp_c if start <= time < end else profile(time)

    return warmed


@dataclass(frozen=True)
class TripPlan:
    shipment: ShipmentIn
    dwell_h: Sequence[float]  # per stop before its departure; [0] counts from packed_at
    travel_h: Sequence[float]  # per leg, departure to arrival
    temperature: TemperatureProfile = field(default_factory=steady_temperature)
    sample_min: float = 5.0
    silent_before_air_h: float = 1.0
    wake_after_landing_min: float = 10.0
    upload_lag_min: float = 3.0
    gps_jitter_km: float = 0.05
    seed: int = 1


@dataclass(frozen=True)
class LegTruth:
    index: int
    mode: str
    departed_at: datetime
    arrived_at: datetime


@dataclass(frozen=True)
class Trip:
    shipment: ShipmentIn
    legs: tuple[LegTruth, ...]
    readings: tuple[Reading, ...]  # in the order they reach the processor

    @property
    def arrival(self) -> datetime:
        return self.legs[-1].arrived_at


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def _timeline(plan: TripPlan) -> tuple[LegTruth, ...]:
    legs = []
    clock = plan.shipment.packed_at
    stops = [*plan.shipment.waypoints, plan.shipment.destination]
    for index, stop in enumerate(stops):
        departed = clock + timedelta(hours=plan.dwell_h[index])
        arrived = departed + timedelta(hours=plan.travel_h[index])
        legs.append(LegTruth(index, stop.mode, departed, arrived))
        clock = arrived
    return tuple(legs)


def _progress_curve(rng: random.Random, travel_h: float) -> Callable[[float], float]:
    """Share of a road leg covered after a share of its time.

    Half-hour stretches at speeds within 25 % of the leg's mean, slower in town at both ends.
    """
    weights = [rng.uniform(0.75, 1.25) for _ in range(max(4, round(travel_h * 2)))]
    weights[0] *= 0.6  # leaving town
    weights[-1] *= 0.6  # arriving in town
    total = sum(weights)
    cumulative = [0.0]
    for weight in weights:
        cumulative.append(cumulative[-1] + weight / total)

    def covered(share_of_time: float) -> float:
        position = min(max(share_of_time, 0.0), 1.0) * len(weights)
        segment = min(int(position), len(weights) - 1)
        within = position - segment
        return cumulative[segment] + within * (cumulative[segment + 1] - cumulative[segment])

    return covered


def _places(plan: TripPlan) -> list[Place]:
    return [plan.shipment.origin, *plan.shipment.waypoints, plan.shipment.destination]


def _position(
    plan: TripPlan,
    legs: tuple[LegTruth, ...],
    curves: list[Callable[[float], float]],
    time: datetime,
    rng: random.Random,
) -> tuple[float, float] | None:
    """Where GPS puts the tracker at ``time``, or None when it has no fix."""
    places = _places(plan)
    silent_before = timedelta(hours=plan.silent_before_air_h)
    wake_after = timedelta(minutes=plan.wake_after_landing_min)
    for leg in legs:
        if leg.mode == "air" and leg.departed_at - silent_before <= time < leg.arrived_at + wake_after:
            return None
    location: tuple[float, float] | None = None
    jitter_km = plan.gps_jitter_km
    for leg in legs:
        start, end = places[leg.index], places[leg.index + 1]
        if time < leg.departed_at:
            location = (start.lat, start.lon)
            jitter_km = max(jitter_km, 0.3)  # moving about a yard or a cargo terminal
            break
        if time < leg.arrived_at:
            share = (time - leg.departed_at) / (leg.arrived_at - leg.departed_at)
            covered = curves[leg.index](share)
            # A road is not a straight line: bow the path sideways, up to ~5 % of the leg.
            bow = 0.05 * math.sin(math.pi * covered) * math.sin(3 * math.pi * covered)
            lat = start.lat + covered * (end.lat - start.lat) - bow * (end.lon - start.lon) * 0.5
            lon = start.lon + covered * (end.lon - start.lon) + bow * (end.lat - start.lat)
            location = (lat, lon)
            break
    if location is None:
        end = places[-1]
        location = (end.lat, end.lon)
        jitter_km = max(jitter_km, 0.1)
    dlat = rng.gauss(0, jitter_km) / 111.0
    dlon = rng.gauss(0, jitter_km) / (111.0 * max(0.2, math.cos(math.radians(location[0]))))
    return round(location[0] + dlat, 6), round(location[1] + dlon, 6)


def _silent_until(plan: TripPlan, legs: tuple[LegTruth, ...], time: datetime) -> datetime | None:
    silent_before = timedelta(hours=plan.silent_before_air_h)
    wake_after = timedelta(minutes=plan.wake_after_landing_min)
    for leg in legs:
        if leg.mode == "air" and leg.departed_at - silent_before <= time < leg.arrived_at + wake_after:
            return leg.arrived_at + wake_after
    return None


def simulate(plan: TripPlan, tail_h: float = 1.0) -> Trip:
    """The readings of the whole trip, until ``tail_h`` after delivery."""
    rng = random.Random(plan.seed)
    legs = _timeline(plan)
    curves = [_progress_curve(rng, _hours(leg.arrived_at - leg.departed_at)) for leg in legs]
    device = plan.shipment.devices[0]
    readings = []
    time = plan.shipment.packed_at
    end = legs[-1].arrived_at + timedelta(hours=tail_h)
    seq = 0
    while time <= end:
        fix = _position(plan, legs, curves, time, rng)
        silent_until = _silent_until(plan, legs, time)
        if silent_until is None:
            received = time + timedelta(seconds=rng.uniform(2, 60))
        else:
            received = silent_until + timedelta(minutes=plan.upload_lag_min,
                                                seconds=rng.uniform(0, 30))
        readings.append(
            Reading(
                device_id=device,
                time=time,
                shipment_id=plan.shipment.id,
                seq=seq,
                temp_c=plan.temperature(time),
                lat=fix[0] if fix else None,
                lon=fix[1] if fix else None,
                received_at=received,
            )
        )
        seq += 1
        time += timedelta(minutes=plan.sample_min)
    # A store-and-forward batch arrives in any order: shuffle within equal received times.
    rng.shuffle(readings)
    readings.sort(key=lambda r: r.received_at)
    return Trip(shipment=plan.shipment, legs=legs, readings=tuple(readings))
