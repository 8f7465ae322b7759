"""Is a shipment probably in the air? Trackers go quiet in flight, and that is no alarm.

A judgement from the last known position, the route and the speed, used by the silence
timer: the shipment is taken to be in the air when its newest position, from any of
its devices, was moving at airliner speed, or was near the departure place of an air leg
(trackers are switched off at the airport before take-off and come back on landing).
"""

from __future__ import annotations

from schemas.shipment import Place, Shipment
from services.excursions.state import ShipmentState
from services.geo import within_km

AIRPORT_RADIUS_KM = 30.0
AIRBORNE_SPEED_KMH = 250.0


def likely_in_air(shipment: Shipment, state: ShipmentState) -> bool:
    fixes = [
        (device.last_position, device.last_speed_kmh)
        for device in state.devices.values()
        if device.last_position is not None
    ]
    if not fixes:
        return False
    (_, lat, lon), speed_kmh = max(fixes, key=lambda fix: fix[0][0])
    if speed_kmh is not None and speed_kmh >= AIRBORNE_SPEED_KMH:
        return True
    return any(within_km(lat, lon, place.lat, place.lon, AIRPORT_RADIUS_KM)
               for place in air_departures(shipment))


def air_departures(shipment: Shipment) -> list[Place]:
    """The places where an air leg begins (a stop's mode is how the leg *to* it travels)."""
    stops = [*shipment.waypoints, shipment.destination]
    departures: list[Place] = [shipment.origin, *shipment.waypoints]
    return [departures[i] for i, stop in enumerate(stops) if stop.mode == "air"]
