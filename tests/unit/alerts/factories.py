"""Builders of shipments and triggers shared by the alert tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.alert import Alert, AlertFigures, AlertKind, AlertStep, Severity
from schemas.shipment import ShipmentIn
from services.alerts.sources import _LOSS_WORDS, _RISK_WORDS
from services.alerts.trigger import AlertTrigger
from services.alerts.whereabouts import place_at

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


_AT = datetime(2026, 11, 10, 3, 12, tzinfo=UTC)


def every_alert() -> list[Alert]:
    """Each kind at each step, as news and found late (over or not), with every figure set."""
    place = place_at(contract_shipment(), STD + timedelta(hours=2))
    stop = place_at(contract_shipment(), STD - timedelta(minutes=30))
    figures = AlertFigures(
        device_id="TRK-0001", reading_time=_AT, temp_c=11.3, peak_c=12.6, humidity_pct=61.0, low_limit=-1.0,
        high_limit=10.0, degree_minutes=1234.0, started_at=_AT - timedelta(minutes=95), received_at=_AT,
        place=place, eta=_AT + timedelta(hours=30), deliver_by=_AT + timedelta(hours=28), viability_left_h=3.5,
        lost_at=_AT - timedelta(hours=1), reasons=(*_RISK_WORDS.values(), *_LOSS_WORDS.values()),
    )
    alerts = []
    for kind in ("temp_high", "temp_low", "humidity_low", "sensor_silent", "at_risk", "viability_lost"):
        for step in ("opened", "escalated", "closed"):
            for found_late, ended, severity in ((False, True, "critical"), (True, True, "warning"),
                                                 (True, False, "critical")):
                f = figures.model_copy(update={
                    "ended_at": _AT - timedelta(minutes=5) if ended else None,
                    "place": stop if kind == "at_risk" else place,
                    "low_limit": None if step == "escalated" else figures.low_limit,
                    "high_limit": None if kind == "humidity_low" else figures.high_limit,
                })
                alerts.append(Alert(id=f"al-{kind}-{step}", trigger_id="t", shipment_id="SHP-1", kind=kind, step=step,
                                    severity=severity, event_time=_AT, figures=f, found_late=found_late))
    return alerts
