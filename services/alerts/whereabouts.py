"""Where a shipment was at a given time, as far as its registered bookings say. Pure.

Trackers are silent in flight, so an excursion found in a landed backlog has no position
of its own; the route's booked legs (``Stop.scheduled_departure`` / ``scheduled_arrival``)
say whether it was on a flight then, or at a stop between two booked legs. Where no
booking covers the time, nothing is claimed (None): a guess would send people to the
wrong place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from schemas.alert import AlertPlace
from schemas.shipment import LegMode, Place, ShipmentIn
from services.alerts.trigger import AlertTrigger
from services.alerts.wording import place_words
from services.alerts.zones import zone_near
from services.i18n.language import language_for

_CODE = re.compile(r"\(([A-Z0-9]{3,4})\)\s*$")  # "Halifax Stanfield (YHZ)" -> YHZ


@dataclass(frozen=True)
class _Leg:
    index: int
    start: Place
    end: Place
    mode: LegMode
    departs: datetime | None
    arrives: datetime | None


def locate(trigger: AlertTrigger, shipment: ShipmentIn) -> AlertTrigger:
    """The trigger with ``figures.place`` set to where the shipment was when it started."""
    figures = trigger.figures
    at = figures.started_at or figures.reading_time or trigger.event_time
    place = place_at(shipment, at)
    if place is None:
        return trigger
    return trigger.model_copy(update={"figures": figures.model_copy(update={"place": place})})


def place_at(shipment: ShipmentIn, at: datetime) -> AlertPlace | None:
    legs = _legs(shipment)
    for leg in legs:
        if leg.departs is not None and leg.arrives is not None and leg.departs <= at < leg.arrives:
            return _under_way(leg)
    for before, after in zip([None, *legs], legs, strict=False):
        # At the stop where ``after`` begins: ``before`` (booked) had arrived, ``after`` not left.
        arrived = before is None or (before.arrives is not None and before.arrives <= at)
        if before is None and at < shipment.packed_at:
            continue
        if arrived and after.departs is not None and at < after.departs:
            return _at(after.start)
    return None


def short_name(place: Place) -> str:
    """An airport's code when the name ends with one, else the name."""
    match = _CODE.search(place.name)
    return match.group(1) if match else place.name


def _legs(shipment: ShipmentIn) -> list[_Leg]:
    stops = [*shipment.waypoints, shipment.destination]
    starts: list[Place] = [shipment.origin, *shipment.waypoints]
    return [
        _Leg(i, start, stop, stop.mode, stop.scheduled_departure, stop.scheduled_arrival)
        for i, (start, stop) in enumerate(zip(starts, stops, strict=True))
    ]


def _under_way(leg: _Leg) -> AlertPlace:
    parts = AlertPlace(
        name="", short="", leg_index=leg.index, mode=leg.mode,
        timezone=zone_near(leg.start.lat, leg.start.lon),  # the place it last left
        start_name=leg.start.name, start_short=short_name(leg.start),
        end_name=leg.end.name, end_short=short_name(leg.end),
    )
    return _named(parts)


def _at(stop: Place) -> AlertPlace:
    parts = AlertPlace(name="", short="", timezone=zone_near(stop.lat, stop.lon),
                       start_name=stop.name, start_short=short_name(stop))
    return _named(parts)


def _named(place: AlertPlace) -> AlertPlace:
    """``name`` and ``short`` in English, as the API and dashboard show them; messages say
    the place in their reader's language from its parts (``wording.place_words``)."""
    name, short = place_words(place, language_for("en"))
    return place.model_copy(update={"name": name, "short": short})
