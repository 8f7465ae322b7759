"""What the route shows happened, and when: pure functions over the report model.

Both traceability documents (epcis.py, fsma204.py) read the route the same way:

- the shipment is *shipped* when leg 0 departed the origin, and *received* when the last
  leg arrived at the destination (else at the report's actual arrival); a waypoint is
  *arrived at* and *departed from* when its legs say so. Times come from the latest ETA
  forecast's legs (the ETA service marks them from the tracker's positions); a leg that
  has not happened yet shows nothing, so nothing is made up.
- ``segments`` cuts the shipment's time into what it was doing: at a stop, or on a leg,
  so sensor readings can be summarised per leg and per dwell at a stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from schemas.shipment import Place
from services.reports.model import ShipmentReport
from services.reports.statistics import Sample

BusinessStep = Literal["shipping", "departing", "arriving", "receiving"]


@dataclass(frozen=True)
class RouteEvent:
    step: BusinessStep
    time: datetime
    stop_index: int  # index into report.stops (0 = origin)
    stop_name: str
    place: Place | None  # None when the report carries no coordinates for the stop


@dataclass(frozen=True)
class Segment:
    """``start <= t < end``; None is open-ended. ``leg_index`` None: at ``stop_index``."""

    start: datetime | None
    end: datetime | None
    stop_index: int | None
    leg_index: int | None
    label: str  # "at Halifax Stanfield (YHZ)", "leg 1 (air) Halifax ... -> Shanghai ..."
    place: Place | None  # where it was, for a stop

    def holds(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)


def place_of(report: ShipmentReport, stop_index: int) -> Place | None:
    # Reports built without places (or a route that changed since) carry names only.
    if len(report.places) != len(report.stops) or not 0 <= stop_index < len(report.places):
        return None
    return report.places[stop_index]


def route_events(report: ShipmentReport) -> list[RouteEvent]:
    """The events the route shows, in time order."""
    last_leg = len(report.legs) - 1
    events: list[RouteEvent] = []
    for leg in report.legs:
        if leg.departed_at is not None:
            step: BusinessStep = "shipping" if leg.index == 0 else "departing"
            events.append(_event(report, step, leg.departed_at, leg.index))
        arrived = leg.arrived_at
        if arrived is None and leg.index == last_leg:
            arrived = report.actual_arrival  # delivered, though the legs were not marked
        if arrived is not None:
            step = "receiving" if leg.index == last_leg else "arriving"
            events.append(_event(report, step, arrived, leg.index + 1))
    return sorted(events, key=lambda e: e.time)


def _event(report: ShipmentReport, step: BusinessStep, time: datetime, stop_index: int) -> RouteEvent:
    name = report.stops[stop_index] if stop_index < len(report.stops) else f"stop {stop_index}"
    return RouteEvent(step, time, stop_index, name, place_of(report, stop_index))


def segments(report: ShipmentReport) -> list[Segment]:
    """Consecutive spans covering all time: at the origin until it left, then each leg
    and each stop in turn, as the route events say."""
    found: list[Segment] = []
    start: datetime | None = None
    at_stop: int | None = 0
    leg: int | None = None
    for event in route_events(report):
        found.append(_segment(report, start, event.time, at_stop, leg))
        start = event.time
        if event.step in ("shipping", "departing"):
            at_stop, leg = None, event.stop_index
        else:
            at_stop, leg = event.stop_index, None
    found.append(_segment(report, start, None, at_stop, leg))
    # A zero-length span (arrived and left in the same instant) holds no reading.
    return [s for s in found if s.start is None or s.end is None or s.start < s.end]


def _segment(report: ShipmentReport, start: datetime | None, end: datetime | None, stop_index: int | None,
             leg_index: int | None) -> Segment:
    if leg_index is not None:
        legs = {leg.index: leg for leg in report.legs}
        row = legs.get(leg_index)
        label = (f"leg {leg_index + 1} ({row.mode}) {row.origin} -> {row.destination}" if row
                 else f"leg {leg_index + 1}")
        return Segment(start, end, None, leg_index, label, None)
    assert stop_index is not None
    name = report.stops[stop_index] if stop_index < len(report.stops) else f"stop {stop_index}"
    return Segment(start, end, stop_index, None, f"at {name}", place_of(report, stop_index))


def samples_in(samples: Sequence[Sample], segment: Segment) -> tuple[Sample, ...]:
    return tuple(s for s in samples if segment.holds(s.time))
