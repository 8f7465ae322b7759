"""Builders of shipments and triggers shared by the alert tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.alert import AlertFigures, AlertKind, AlertStep, Severity
from schemas.shipment import ShipmentIn
from services.alerts.trigger import AlertTrigger

T0 = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
# The booked flight of ``contract_shipment``: YHZ 20:00 UTC -> PVG 06:00 UTC next day.
STD = datetime(2026, 11, 9, 20, 0, tzinfo=UTC)
STA = datetime(2026, 11, 10, 6, 0, tzinfo=UTC)


def contract_shipment(booked: bool = True, **party_fields: Any) -> ShipmentIn:
    """The registration exactly as contract section 2 shows it (no zones, no language),
    with the flight's booking when ``booked``; ``party_fields`` go to both parties."""
    pvg: dict[str, Any] = {"name": "Shanghai Pudong (PVG)", "lat": 31.1443, "lon": 121.8083, "mode": "air"}
    if booked:
        pvg |= {"scheduled_departure": STD.isoformat(), "scheduled_arrival": STA.isoformat()}
    return ShipmentIn.model_validate(
        {
            "id": "SHP-2026-0001",
            "product": "live-lobster",
            "devices": ["TRK-0001"],
            "origin": {"name": "Halifax Stanfield (YHZ)", "lat": 44.8808, "lon": -63.5086},
            "waypoints": [pvg],
            "destination": {"name": "Hangzhou buyer warehouse", "lat": 30.2741, "lon": 120.1551, "mode": "road"},
            "packed_at": "2026-11-09T18:00:00Z",
            "deliver_by": "2026-11-11T12:00:00Z",
            "seller": {"name": "Shediac Lobster Co.", "email": "ops@seller.example", "phone": "+19025550100"}
            | party_fields,
            "buyer": {"name": "Hangzhou Fresh Ltd.", "email": "qa@buyer.example", "phone": "+8657155500100"}
            | party_fields,
        }
    )


def shipment(
    seller_tz: str | None = "America/Halifax",
    buyer_tz: str | None = "Asia/Shanghai",
    seller_email: str = "ops@seller.example",
    buyer_email: str = "qa@buyer.example",
) -> ShipmentIn:
    return ShipmentIn.model_validate(
        {
            "id": "SHP-2026-0001",
            "devices": ["TRK-0001"],
            "origin": {"name": "Halifax Stanfield (YHZ)", "lat": 44.8808, "lon": -63.5086},
            "destination": {"name": "Hangzhou buyer warehouse", "lat": 30.27, "lon": 120.15},
            "packed_at": "2026-11-09T18:00:00Z",
            "deliver_by": "2026-11-11T12:00:00Z",
            "seller": {
                "name": "Shediac Lobster Co.",
                "email": seller_email,
                "phone": "+19025550100",
                "timezone": seller_tz,
            },
            "buyer": {
                "name": "Hangzhou Fresh Ltd.",
                "email": buyer_email,
                "phone": "+8657155500100",
                "timezone": buyer_tz,
            },
        }
    )


def trigger(
    trigger_id: str = "exc-1",
    step: AlertStep = "opened",
    severity: Severity = "warning",
    at: datetime = T0,
    kind: AlertKind = "temp_high",
    shipment_id: str = "SHP-2026-0001",
) -> AlertTrigger:
    return AlertTrigger(
        trigger_id=trigger_id,
        shipment_id=shipment_id,
        kind=kind,
        step=step,
        severity=severity,
        event_time=at,
        figures=AlertFigures(device_id="TRK-0001", reading_time=at, temp_c=7.4, peak_c=8.1, high_limit=5.0),
    )
