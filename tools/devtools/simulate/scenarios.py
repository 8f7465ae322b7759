"""The named scenarios: how each one changes a normal journey, and what it is meant to cause.

Every scenario is designed for one unambiguous outcome under the live-lobster profile
(nominal 0-5 C, warning after 15 min outside; critical below -1 C or above 10 C after
5 min): the box is either plainly inside a band or plainly outside it, for far longer than
the alarm delay, and a late shipment is hours late, not minutes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal

from devtools.simulate.geography import ALTERNATE_AIRPORTS, distance_km
from devtools.simulate.itinerary import (
    TAXI_AND_CLIMB_H,
    Leg,
    LegRole,
    Route,
    hold,
    index_of,
    stretch,
    truck,
    until_delivered,
)
from schemas.excursion import ExcursionKind, ExcursionSeverity

ScenarioName = Literal[
    "normal",
    "tarmac-delay",
    "freezer-incident",
    "sensor-failure",
    "diverted-flight",
    "customs-hold",
]
SCENARIOS: tuple[ScenarioName, ...] = (
    "normal",
    "tarmac-delay",
    "freezer-incident",
    "sensor-failure",
    "diverted-flight",
    "customs-hold",
)

ON_TIME_MARGIN = timedelta(hours=3)  # an on-time shipment arrives at least this early
LATE_BY = (3.0, 6.0)  # hours a late scenario misses deliver_by by


@dataclass(frozen=True)
class Incident:
    """A designed temperature excursion: the box leaves its band during leg ``role``."""

    kind: ExcursionKind
    severity: ExcursionSeverity
    role: LegRole
    cause: str


@dataclass(frozen=True)
class Outage:
    """A tracker that takes no samples at all (crash, flat battery) for a while."""

    device_index: int
    role: LegRole  # the leg it starts in
    after: timedelta  # after that leg starts
    duration: timedelta
    cause: str


@dataclass(frozen=True)
class ScenarioPlan:
    name: ScenarioName
    legs: list[Leg]
    incidents: tuple[Incident, ...] = ()
    outages: tuple[Outage, ...] = ()
    late: bool = False


def apply(name: ScenarioName, route: Route, legs: list[Leg], rng: random.Random,
          deliver_within: timedelta) -> ScenarioPlan:
    """Turn a normal journey into ``name``, keeping on-time ones clearly on time."""
    plan = _BUILDERS[name](route, list(legs), rng, deliver_within)
    if not plan.late:
        _keep_on_time(plan.legs, deliver_within)
    return plan


def _normal(route: Route, legs: list[Leg], rng: random.Random, within: timedelta) -> ScenarioPlan:
    return ScenarioPlan("normal", legs)


def _tarmac_delay(
    route: Route, legs: list[Leg], rng: random.Random, within: timedelta
) -> ScenarioPlan:
    airport = route.arrival_airport
    at = index_of(legs, "unloading")
    legs[at] = replace(
        legs[at],
        label=f"left on the apron in the sun at {airport.code}",
        duration=timedelta(minutes=rng.uniform(120, 140)),
        ambient_c=rng.uniform(28.0, 30.0),
        humidity_pct=80,
    )
    cause = f"pallet left on the apron at {airport.code} for about two hours"
    return ScenarioPlan(
        "tarmac-delay", legs, incidents=(Incident("temp_high", "warning", "unloading", cause),)
    )


def _freezer_incident(
    route: Route, legs: list[Leg], rng: random.Random, within: timedelta
) -> ScenarioPlan:
    airport = route.arrival_airport
    at = index_of(legs, "import_cold_store")
    freezer = hold(
        "import_cold_store", f"frozen-goods room by mistake at {airport.code}", airport,
        timedelta(hours=rng.uniform(3.5, 4.5)), rng.uniform(-24.0, -20.0), 75, True,
    )
    legs[at] = replace(legs[at], duration=timedelta(hours=rng.uniform(2.0, 3.0)))
    legs.insert(at, freezer)
    cause = f"box put in a -20 C freezer room at {airport.code} for about four hours"
    return ScenarioPlan(
        "freezer-incident", legs,
        incidents=(Incident("temp_low", "critical", "import_cold_store", cause),),
    )


def _sensor_failure(
    route: Route, legs: list[Leg], rng: random.Random, within: timedelta
) -> ScenarioPlan:
    at = index_of(legs, "import_cold_store")
    legs[at] = replace(legs[at], duration=timedelta(hours=rng.uniform(4.5, 5.5)))
    outage = Outage(
        0, "import_cold_store", timedelta(minutes=rng.uniform(40, 60)),
        timedelta(minutes=rng.uniform(120, 150)),
        f"tracker firmware crash in the cold store at {route.arrival_airport.code}",
    )
    return ScenarioPlan("sensor-failure", legs, outages=(outage,))


def _late_by(legs: list[Leg], rng: random.Random, within: timedelta) -> timedelta:
    """How much longer the journey must be to miss ``deliver_by`` by a few hours."""
    target = within + timedelta(hours=rng.uniform(*LATE_BY))
    return max(timedelta(hours=1), target - until_delivered(legs))


def _diverted_flight(
    route: Route, legs: list[Leg], rng: random.Random, within: timedelta
) -> ScenarioPlan:
    """Lands at the alternate airport, clears there and is trucked to the buyer, late.

    The alternate is not on the registered route: positions leave the plan for a while.
    """
    airport = route.arrival_airport
    alternate = ALTERNATE_AIRPORTS[airport.code]
    at = index_of(legs, "flight", last=True)
    last = legs[at]
    legs[at] = replace(
        last,
        label=f"freighter {last.origin.code} -> {alternate.code} (diverted from {airport.code})",
        to=alternate,
        duration=timedelta(hours=distance_km(last.origin, alternate) / 850 + TAXI_AND_CLIMB_H),
    )
    unloading = index_of(legs, "unloading")
    legs[unloading] = replace(
        legs[unloading], label=f"ramp unloading {alternate.code}", origin=alternate, to=alternate
    )
    store = index_of(legs, "import_cold_store")
    legs[store] = replace(
        legs[store], label=f"cold store at {alternate.code}, clearance and a truck arranged",
        origin=alternate, to=alternate,
    )
    road = index_of(legs, "truck_to_buyer")
    legs[road] = truck("truck_to_buyer", alternate, route.buyer.site, rng, rng.uniform(60, 75))
    stretch(legs, store, _late_by(legs, rng, within))
    return ScenarioPlan("diverted-flight", legs, late=True)


def _customs_hold(
    route: Route, legs: list[Leg], rng: random.Random, within: timedelta
) -> ScenarioPlan:
    at = index_of(legs, "import_cold_store")
    legs[at] = replace(
        legs[at], label=f"customs hold in a bonded chiller at {route.arrival_airport.code}"
    )
    stretch(legs, at, _late_by(legs, rng, within))
    return ScenarioPlan("customs-hold", legs, late=True)


def _keep_on_time(legs: list[Leg], within: timedelta) -> None:
    """Trim the export cold store (never below an hour) if a long draw risks being late."""
    excess = until_delivered(legs) - (within - ON_TIME_MARGIN)
    if excess > timedelta(0):
        at = index_of(legs, "export_cold_store")
        trimmed = max(timedelta(hours=1), legs[at].duration - excess)
        legs[at] = replace(legs[at], duration=trimmed)


_BUILDERS = {
    "normal": _normal,
    "tarmac-delay": _tarmac_delay,
    "freezer-incident": _freezer_incident,
    "sensor-failure": _sensor_failure,
    "diverted-flight": _diverted_flight,
    "customs-hold": _customs_hold,
}
