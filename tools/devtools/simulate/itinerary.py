"""A shipment's true journey: timed segments (holds, truck legs, flights) with their climate.

``plan_legs`` draws a normal journey as a list of ``Leg`` (durations, no clock yet);
scenarios edit that list; ``schedule`` pins it to ``packed_at`` as an ``Itinerary``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from devtools.simulate.geography import (
    ANCHORAGE,
    ARRIVAL_AIRPORTS,
    BUYERS,
    HALIFAX,
    PACKERS,
    Buyer,
    Packer,
    Site,
    distance_km,
    interpolate,
)

LegKind = Literal["hold", "road", "air"]
# What part of the journey a leg is, so scenarios can find the one they change.
LegRole = Literal[
    "packing",
    "truck_to_airport",
    "export_cold_store",
    "loading",
    "flight",
    "fuel_stop",
    "unloading",
    "import_cold_store",
    "truck_to_buyer",
    "delivered",
]

ROAD_WINDING = 1.25  # road distance / great-circle distance
TAXI_AND_CLIMB_H = 0.4  # added to each flight's cruise time
DELIVERED_HOLD = timedelta(minutes=30)  # trackers keep reporting this long after arrival


@dataclass(frozen=True)
class Route:
    packer: Packer
    airports: tuple[Site, ...]  # Halifax, optionally Anchorage, the arrival airport
    buyer: Buyer

    @property
    def arrival_airport(self) -> Site:
        return self.airports[-1]


@dataclass(frozen=True)
class Leg:
    """One stretch of the journey before it is pinned to a clock."""

    role: LegRole
    kind: LegKind
    label: str
    duration: timedelta
    origin: Site
    to: Site
    ambient_c: float  # the air around the box
    humidity_pct: float  # relative humidity inside the box
    indoors: bool = False  # no GPS fix most of the time


@dataclass(frozen=True)
class Segment:
    role: LegRole
    kind: LegKind
    label: str
    start: datetime
    end: datetime
    origin: Site
    to: Site
    ambient_c: float
    humidity_pct: float
    indoors: bool

    @property
    def speed_kmh(self) -> float:
        hours = (self.end - self.start).total_seconds() / 3600
        if self.kind == "hold" or hours <= 0:
            return 0.0
        factor = ROAD_WINDING if self.kind == "road" else 1.0
        return distance_km(self.origin, self.to) * factor / hours

    def position(self, at: datetime) -> tuple[float, float]:
        if self.kind == "hold":
            return self.origin.lat, self.origin.lon
        span = (self.end - self.start).total_seconds()
        fraction = (at - self.start).total_seconds() / span if span > 0 else 1.0
        return interpolate(self.origin, self.to, fraction)


@dataclass(frozen=True)
class Itinerary:
    segments: tuple[Segment, ...]

    @property
    def start(self) -> datetime:
        return self.segments[0].start

    @property
    def end(self) -> datetime:
        return self.segments[-1].end

    @property
    def arrived_at(self) -> datetime:
        """When the box reached the buyer's warehouse."""
        return self.first("delivered").start

    def first(self, role: LegRole) -> Segment:
        return next(s for s in self.segments if s.role == role)

    def segment_at(self, at: datetime) -> Segment:
        for segment in self.segments:
            if at < segment.end:
                return segment
        return self.segments[-1]

    def airborne(self) -> tuple[Segment, ...]:
        return tuple(s for s in self.segments if s.kind == "air")


def choose_route(rng: random.Random) -> Route:
    packer = rng.choice(PACKERS)
    buyer = rng.choice(BUYERS)
    arrival = ARRIVAL_AIRPORTS[buyer.airport]
    # Laden freighters mostly stop for fuel in Anchorage; lighter loads fly direct.
    via_anchorage = rng.random() < 0.6
    airports = (HALIFAX, ANCHORAGE, arrival) if via_anchorage else (HALIFAX, arrival)
    return Route(packer, airports, buyer)


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(hours=rng.uniform(low, high))


def hold(
    role: LegRole,
    label: str,
    site: Site,
    duration: timedelta,
    ambient_c: float,
    humidity_pct: float,
    indoors: bool = False,
) -> Leg:
    return Leg(role, "hold", label, duration, site, site, ambient_c, humidity_pct, indoors)


def truck(role: LegRole, origin: Site, to: Site, rng: random.Random, speed_kmh: float) -> Leg:
    hours = distance_km(origin, to) * ROAD_WINDING / speed_kmh
    label = f"reefer truck {origin.code} -> {to.code}"
    return Leg(
        role, "road", label, timedelta(hours=hours), origin, to, rng.uniform(2.5, 3.5),
        rng.uniform(85, 95),
    )


def flight(origin: Site, to: Site, rng: random.Random) -> Leg:
    hours = distance_km(origin, to) / rng.uniform(830, 880) + TAXI_AND_CLIMB_H
    return Leg(
        "flight", "air", f"freighter {origin.code} -> {to.code}", timedelta(hours=hours),
        origin, to, rng.uniform(6.0, 8.0), rng.uniform(80, 90),
    )


def plan_legs(route: Route, rng: random.Random) -> list[Leg]:
    """A normal journey: everything cold, every hand-over on time."""
    plant, first_airport, arrival = route.packer.site, route.airports[0], route.arrival_airport
    legs = [
        hold("packing", "packing cold room", plant, _hours(rng, 0.5, 1.5), 2.0, 92, True),
        truck("truck_to_airport", plant, first_airport, rng, rng.uniform(70, 85)),
        hold(
            "export_cold_store", f"perishables cold store {first_airport.code}", first_airport,
            _hours(rng, 3.0, 5.0), 4.0, 90, True,
        ),
        hold(
            "loading", f"ramp loading {first_airport.code}", first_airport,
            _hours(rng, 0.5, 0.75), rng.uniform(4.0, 10.0), 88,
        ),
    ]
    for origin, to in zip(route.airports, route.airports[1:], strict=False):
        legs.append(flight(origin, to, rng))
        if to is not arrival:
            legs.append(hold(
                "fuel_stop", f"fuel stop on board {to.code}", to, _hours(rng, 1.5, 2.5),
                rng.uniform(5.0, 7.0), 85,
            ))
    legs += [
        hold(
            "unloading", f"ramp unloading {arrival.code}", arrival, _hours(rng, 0.5, 0.75),
            rng.uniform(8.0, 14.0), 85,
        ),
        hold(
            "import_cold_store", f"import cold store and customs {arrival.code}", arrival,
            _hours(rng, 2.0, 4.0), 4.0, 90, True,
        ),
        truck("truck_to_buyer", arrival, route.buyer.site, rng, rng.uniform(55, 70)),
        hold("delivered", "buyer's cold room", route.buyer.site, DELIVERED_HOLD, 2.0, 92, True),
    ]
    return legs


def index_of(legs: list[Leg], role: LegRole, last: bool = False) -> int:
    found = [i for i, leg in enumerate(legs) if leg.role == role]
    return found[-1] if last else found[0]


def until_delivered(legs: list[Leg]) -> timedelta:
    """How long after packing the box reaches the buyer."""
    delivered = index_of(legs, "delivered")
    return sum((leg.duration for leg in legs[:delivered]), timedelta())


def stretch(legs: list[Leg], index: int, by: timedelta) -> None:
    legs[index] = replace(legs[index], duration=legs[index].duration + by)


def schedule(legs: list[Leg], packed_at: datetime) -> Itinerary:
    segments = []
    clock = packed_at
    for leg in legs:
        end = clock + leg.duration
        segments.append(Segment(
            leg.role, leg.kind, leg.label, clock, end, leg.origin, leg.to, leg.ambient_c,
            leg.humidity_pct, leg.indoors,
        ))
        clock = end
    return Itinerary(tuple(segments))
