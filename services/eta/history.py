"""Completed shipments' stop visits, read from TimescaleDB (the adapter of ``calibration``).

A shipment counts as completed once one of its fixes lies inside the destination's
geofence. Its visits are computed from its stored fixes with the same geofences the live
forecast uses (``build_route`` with the untrained parameters).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import psycopg
from pydantic import ValidationError

from schemas.shipment import Shipment, ShipmentIn
from services.eta.calibration import CompletedTrip, is_complete, stop_visits, untrained
from services.eta.parameters import EtaParameters
from services.eta.route import build_route

log = logging.getLogger(__name__)

_SHIPMENTS = "SELECT id, body FROM shipments WHERE packed_at >= %s ORDER BY packed_at, id"
_FIXES = ("SELECT time, lat, lon FROM readings "
          "WHERE shipment_id = %s AND lat IS NOT NULL AND lon IS NOT NULL")


@dataclass(frozen=True)
class History:
    trips: list[CompletedTrip]
    scanned: int  # shipments packed since the cut-off
    unreadable: list[str]  # ids whose stored registration no longer validates


def completed_trips(dsn: str, params: EtaParameters, since: datetime) -> History:
    """The completed shipments packed at or after ``since``, with their stop visits."""
    trips: list[CompletedTrip] = []
    unreadable: list[str] = []
    prior = untrained(params)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(_SHIPMENTS, (since,)).fetchall()
        for shipment_id, body in rows:
            try:
                shipment: ShipmentIn = Shipment.model_validate(body)
            except ValidationError as exc:
                log.warning("shipment %s: stored registration does not validate: %s", shipment_id, exc)
                unreadable.append(shipment_id)
                continue
            fixes = conn.execute(_FIXES, (shipment_id,)).fetchall()
            visits = stop_visits(build_route(shipment, prior), fixes)
            if is_complete(visits):
                trips.append(CompletedTrip(shipment=shipment, visits=visits))
    return History(trips=trips, scanned=len(rows), unreadable=unreadable)
