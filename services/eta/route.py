"""A shipment's route as stops and legs, with planned dwell and travel times.

Stop 0 is the origin, the last stop the destination; leg ``i`` runs from stop ``i`` to stop
``i + 1`` and is travelled by the ``mode`` of stop ``i + 1`` (contract section 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.shipment import LegMode, ShipmentIn
from services.eta.geo import great_circle_km
from services.eta.parameters import EtaParameters


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
    planned_h: float  # distance at the mode's speed prior

    @property
    def name(self) -> str:
        return f"{self.start.name} -> {self.end.name}"


@dataclass(frozen=True)
class Route:
    stops: tuple[RouteStop, ...]
    legs: tuple[RouteLeg, ...]

    @property
    def destination(self) -> RouteStop:
        return self.stops[-1]

    def planned_h_after(self, leg_index: int) -> float:
        """Planned dwell and travel time of every leg after ``leg_index``."""
        return sum(
            self.stops[leg.index].dwell_h + leg.planned_h for leg in self.legs[leg_index + 1 :]
        )

    def distance_km_after(self, leg_index: int) -> float:
        return sum(leg.distance_km for leg in self.legs[leg_index + 1 :])


def _dwell_h(params: EtaParameters, arriving: LegMode | None, leaving: LegMode | None) -> float:
    if leaving is None:
        return 0.0
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
                dwell_h=_dwell_h(params, arriving, leaving),
            )
        )
    legs = []
    for index, mode in enumerate(modes):
        start, end = stops[index], stops[index + 1]
        gc_km = great_circle_km(start.lat, start.lon, end.lat, end.lon)
        distance = gc_km * params.distance_factor(mode)
        legs.append(
            RouteLeg(
                index=index,
                start=start,
                end=end,
                mode=mode,
                great_circle_km=gc_km,
                distance_km=distance,
                planned_h=distance / params.speed_kmh(mode),
            )
        )
    return Route(stops=tuple(stops), legs=tuple(legs))
