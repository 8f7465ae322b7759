"""Is a shipment's journey over? Then a quiet tracker is no alarm: it was switched off.

Over once the newest position, from any of its devices, is at the destination, or once
``deliver_by`` is well past (a box still travelling a day after it was due is a matter for
the late-delivery alert, not for a silence alarm on every tracker of every old shipment).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.shipment import Shipment
from services.excursions.state import ShipmentState
from services.geo import within_km

DESTINATION_RADIUS_KM = 2.0
WATCH_PAST_DUE = timedelta(hours=24)


def journey_over(shipment: Shipment, state: ShipmentState, now: datetime) -> bool:
    if now > shipment.deliver_by + WATCH_PAST_DUE:
        return True
    positions = [device.last_position for device in state.devices.values() if device.last_position is not None]
    if not positions:
        return False
    _, lat, lon = max(positions)
    destination = shipment.destination
    return within_km(lat, lon, destination.lat, destination.lon, DESTINATION_RADIUS_KM)
