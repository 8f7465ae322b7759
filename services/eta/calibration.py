"""Learning per-place dwell and per-leg timing from completed shipments (pure).

History is seen the way the live forecast sees a trip: per stop, the first and the last fix
inside its geofence (``StopVisit``). From those, for every completed shipment:

- the dwell at a place: last fix inside minus first fix inside (at the origin, minus
  ``packed_at``), keyed by the place's name;
- a leg's extra time: first fix inside its end minus last fix inside its start, minus the
  leg's planned time: booked legs (against the booked block time) and unbooked ones
  (against distance over the speed prior) apart;
- a booked leg's departure offset: last fix inside its start minus its STD, for cargo that
  made the booking's cut-off.

Each learned value is the median of its observations (the ETA is judged by absolute error,
and dwell and delay times are skewed), kept only with at least ``min_trips`` of them. The
result is ``EtaParameters`` with ``place_dwell_h`` and ``leg_timing`` filled in; the
adapter (``services.eta.history``) reads the visits from TimescaleDB.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.shipment import ShipmentIn
from services.eta.parameters import EtaParameters, LegTiming
from services.eta.route import Route, build_route
from services.geo import within_km


@dataclass(frozen=True)
class StopVisit:
    first_in: datetime | None = None  # earliest fix inside the stop's geofence
    last_in: datetime | None = None  # latest fix inside it


@dataclass(frozen=True)
class CompletedTrip:
    shipment: ShipmentIn
    visits: tuple[StopVisit, ...]  # one per stop of the route, origin first


@dataclass(frozen=True)
class Calibration:
    parameters: EtaParameters
    # How many shipments each learned value rests on (including those below min_trips).
    dwell_samples: dict[str, int] = field(default_factory=dict)
    leg_samples: dict[str, int] = field(default_factory=dict)


def untrained(params: EtaParameters) -> EtaParameters:
    """The parameters without anything learned: what observations are measured against."""
    return params.model_copy(update={"place_dwell_h": {}, "leg_timing": {}})


def stop_visits(route: Route, fixes: Iterable[tuple[datetime, float, float]]) -> tuple[StopVisit, ...]:
    """Per stop, the first and last fix inside its geofence; fixes in any order."""
    first: list[datetime | None] = [None] * len(route.stops)
    last: list[datetime | None] = [None] * len(route.stops)
    for time, lat, lon in fixes:
        for stop in route.stops:
            if not within_km(lat, lon, stop.lat, stop.lon, stop.radius_km):
                continue
            seen_first, seen_last = first[stop.index], last[stop.index]
            first[stop.index] = time if seen_first is None or time < seen_first else seen_first
            last[stop.index] = time if seen_last is None or time > seen_last else seen_last
    return tuple(StopVisit(a, b) for a, b in zip(first, last, strict=True))


def is_complete(visits: Sequence[StopVisit]) -> bool:
    """Delivered: a fix inside the destination's geofence."""
    return bool(visits) and visits[-1].first_in is not None


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


@dataclass
class _Observations:
    dwell: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    extra: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    booked_extra: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    departure: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, trip: CompletedTrip, route: Route) -> None:
        visits = trip.visits
        if len(visits) != len(route.stops) or not is_complete(visits):
            return
        for stop, visit in zip(route.stops[:-1], visits, strict=False):
            arrived = trip.shipment.packed_at if stop.index == 0 else visit.first_in
            if arrived is not None and visit.last_in is not None and visit.last_in >= arrived:
                self.dwell[stop.name].append(_hours(visit.last_in - arrived))
        for leg in route.legs:
            left, reached = visits[leg.index].last_in, visits[leg.index + 1].first_in
            if left is None or reached is None or reached <= left:
                continue  # a leg not seen at both ends, or a geofence overlap
            scheduled = leg.scheduled_departure
            extra = self.extra if scheduled is None else self.booked_extra
            extra[leg.name].append(_hours(reached - left) - leg.planned_h)
            arrived = visits[leg.index].first_in if leg.index else trip.shipment.packed_at
            if (scheduled is not None and arrived is not None
                    and arrived <= scheduled - timedelta(hours=leg.booking_cutoff_h)):
                self.departure[leg.name].append(_hours(left - scheduled))


def _median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 3)


def calibrate(
    trips: Iterable[CompletedTrip], base: EtaParameters, min_trips: int = 3
) -> Calibration:
    """``base`` with what the completed trips say about each place and leg."""
    if min_trips < 1:
        raise ValueError("min_trips must be at least 1")
    prior = untrained(base)
    seen = _Observations()
    for trip in trips:
        seen.add(trip, build_route(trip.shipment, prior))
    dwell = {name: _median(hours) for name, hours in seen.dwell.items() if len(hours) >= min_trips}
    def learned(values: dict[str, list[float]], name: str) -> float:
        return _median(values[name]) if len(values[name]) >= min_trips else 0.0

    legs = {*seen.extra, *seen.booked_extra}
    timing = {
        name: LegTiming(
            extra_h=learned(seen.extra, name),
            booked_extra_h=learned(seen.booked_extra, name),
            departure_offset_h=learned(seen.departure, name),
        )
        for name in sorted(legs)
        if max(len(seen.extra[name]), len(seen.booked_extra[name])) >= min_trips
    }
    parameters = base.model_copy(
        update={"place_dwell_h": {**base.place_dwell_h, **dwell},
                "leg_timing": {**base.leg_timing, **timing}}
    )
    return Calibration(
        parameters=EtaParameters.model_validate(parameters.model_dump()),
        dwell_samples={name: len(hours) for name, hours in seen.dwell.items()},
        leg_samples={name: len(seen.extra[name]) + len(seen.booked_extra[name])
                     for name in sorted(legs)},
    )
