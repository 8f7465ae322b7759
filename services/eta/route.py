"""A shipment's route as stops and legs, with planned dwell and travel times.

Stop 0 is the origin, the last stop the destination; leg ``i`` runs from stop ``i`` to stop
``i + 1`` and is travelled by the ``mode`` of stop ``i + 1`` (contract section 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.shipment import LegMode, ShipmentIn, Stop
from services.eta.parameters import EtaParameters, LegTiming
from services.geo import great_circle_km


def leg_name(start: str, end: str) -> str:
    """How a leg is named in updates and in ``EtaParameters.leg_timing``."""
    return f"{start} -> {end}"


@dataclass(frozen=True)
class RouteStop:
    index: int
    name: str
    lat: float
    lon: float
    radius_km: float  # geofence
    dwell_h: float  # planned time between arriving and departing; 0 at the destination


@dataclass(frozen=True)
class RouteLeg:
    index: int
    start: RouteStop
    end: RouteStop
    mode: LegMode
    great_circle_km: float
    distance_km: float  # great circle times the mode's detour factor
    planned_h: float  # the booked block time, else the distance at the mode's speed prior
    scheduled_departure: datetime | None = None  # booked, e.g. a flight's STD
    scheduled_arrival: datetime | None = None
    booking_cutoff_h: float = 0.0  # arriving later than this before the STD misses the booking
    departure_offset_h: float = 0.0  # learned: when a booked leg really leaves, from its STD

    @property
    def name(self) -> str:
        return leg_name(self.start.name, self.end.name)

    def departure_after(self, ready_at: datetime) -> datetime:
        """When the leg leaves, for cargo that reached its start at ``ready_at``.

        With a booking that the cargo makes, at the booked time; otherwise (no booking, or
        the cut-off missed and the next departure unknown) after the planned dwell.
        """
        scheduled = self.scheduled_departure
        if scheduled is not None and ready_at <= scheduled - timedelta(hours=self.booking_cutoff_h):
            return scheduled + timedelta(hours=self.departure_offset_h)
        return ready_at + timedelta(hours=self.start.dwell_h)


@dataclass(frozen=True)
class Route:
    stops: tuple[RouteStop, ...]
    legs: tuple[RouteLeg, ...]

    @property
    def destination(self) -> RouteStop:
        return self.stops[-1]

    def arrival_after(self, leg_index: int, leg_ends_at: datetime) -> datetime:
        """Arrival at the destination when leg ``leg_index`` ends at ``leg_ends_at``:
        each later leg leaves on its booking when the cargo makes it, else after the
        planned dwell, and takes its booked or planned time."""
        clock = leg_ends_at
        for leg in self.legs[leg_index + 1 :]:
            clock = leg.departure_after(clock) + timedelta(hours=leg.planned_h)
        return clock

    def distance_km_after(self, leg_index: int) -> float:
        return sum(leg.distance_km for leg in self.legs[leg_index + 1 :])


def _dwell_h(
    params: EtaParameters, name: str, arriving: LegMode | None, leaving: LegMode | None
) -> float:
    if leaving is None:
        return 0.0
    if name in params.place_dwell_h:
        return params.place_dwell_h[name]
    if arriving is None:
        return params.origin_loading_h + _departure_handling_h(params, leaving)
    if arriving == leaving:
        return {
            "road": params.road_stop_h,
            "air": params.air_transit_h,
            "sea": params.sea_transit_h,
        }[arriving]
    return _arrival_handling_h(params, arriving) + _departure_handling_h(params, leaving)


def _departure_handling_h(params: EtaParameters, mode: LegMode) -> float:
    return {"road": 0.0, "air": params.air_departure_handling_h,
            "sea": params.sea_departure_handling_h}[mode]


def _arrival_handling_h(params: EtaParameters, mode: LegMode) -> float:
    return {"road": 0.0, "air": params.air_arrival_handling_h,
            "sea": params.sea_arrival_handling_h}[mode]


def _radius_km(params: EtaParameters, name: str, modes: set[LegMode]) -> float:
    if name in params.radius_overrides_km:
        return params.radius_overrides_km[name]
    if "air" in modes:
        return params.airport_radius_km
    if "sea" in modes:
        return params.port_radius_km
    return params.road_stop_radius_km


def build_route(shipment: ShipmentIn, params: EtaParameters) -> Route:
    places = [shipment.origin, *shipment.waypoints, shipment.destination]
    modes: list[LegMode] = [stop.mode for stop in [*shipment.waypoints, shipment.destination]]
    stops = []
    for index, place in enumerate(places):
        arriving = modes[index - 1] if index > 0 else None
        leaving = modes[index] if index < len(modes) else None
        adjacent = {mode for mode in (arriving, leaving) if mode is not None}
        stops.append(
            RouteStop(
                index=index,
                name=place.name,
                lat=place.lat,
                lon=place.lon,
                radius_km=_radius_km(params, place.name, adjacent),
                dwell_h=_dwell_h(params, place.name, arriving, leaving),
            )
        )
    legs = []
    for index, mode in enumerate(modes):
        start, end = stops[index], stops[index + 1]
        gc_km = great_circle_km(start.lat, start.lon, end.lat, end.lon)
        distance = gc_km * params.distance_factor(mode)
        booked = places[index + 1]
        assert isinstance(booked, Stop)
        departure, arrival = booked.scheduled_departure, booked.scheduled_arrival
        timing = params.leg_timing.get(leg_name(start.name, end.name), LegTiming())
        if departure is not None and arrival is not None:
            planned_h = (arrival - departure).total_seconds() / 3600 + timing.booked_extra_h
        else:
            planned_h = distance / params.speed_kmh(mode) + timing.extra_h
        legs.append(
            RouteLeg(
                index=index,
                start=start,
                end=end,
                mode=mode,
                great_circle_km=gc_km,
                distance_km=distance,
                planned_h=max(0.0, planned_h),
                scheduled_departure=departure,
                scheduled_arrival=arrival,
                booking_cutoff_h=params.booking_cutoff_h(mode),
                departure_offset_h=timing.departure_offset_h,
            )
        )
    return Route(stops=tuple(stops), legs=tuple(legs))
