"""Alerts raised from excursion and ETA events, and their deliveries (contract section 3).

``Alert`` is what the alert service stores in its outbox (table ``alerts``) and formats
into emails and SMS; ``AlertEvent`` travels on ``coldchain.alerts`` for the live feed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.common import ShipmentId

AlertKind = Literal["temp_high", "temp_low", "humidity_low", "sensor_silent", "at_risk", "viability_lost"]
AlertStep = Literal["opened", "escalated", "closed"]
Severity = Literal["warning", "critical"]
Role = Literal["seller", "buyer", "ops"]
ChannelName = Literal["email", "sms"]
DeliveryStatus = Literal["pending", "sending", "sent", "failed"]

STEP_ORDER: dict[str, int] = {"opened": 0, "escalated": 1, "closed": 2}
SEVERITY_ORDER: dict[str, int] = {"warning": 0, "critical": 1}


class AlertFigures(BaseModel):
    """The numbers a person needs to judge an alert; each is optional, by kind."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device_id: str | None = None
    reading_time: datetime | None = None  # device time of the reading that decided the step
    temp_c: float | None = None
    peak_c: float | None = None
    humidity_pct: float | None = None
    low_limit: float | None = None  # in the unit of the kind: degC, or %RH for humidity
    high_limit: float | None = None
    degree_minutes: float | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    eta: datetime | None = None
    deliver_by: datetime | None = None
    viability_left_h: float | None = None
    lost_at: datetime | None = None  # when a lethal limit was reached (viability_lost)
    reasons: tuple[str, ...] = ()


class Alert(BaseModel):
    """One lifecycle step of one trigger (an excursion, an at-risk episode, a lost shipment).

    ``id`` is a hash of ``(trigger_id, step)``, so a redelivered event maps to the same
    alert. ``suppressed`` holds why no one is told (flapping), or None.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    trigger_id: str
    shipment_id: ShipmentId
    kind: AlertKind
    step: AlertStep
    severity: Severity
    event_time: datetime  # event time of the step, UTC
    figures: AlertFigures = AlertFigures()
    suppressed: str | None = None


class AlertEvent(BaseModel):
    """An alert raised, or a change in the state of one of its deliveries (live feed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: str
    shipment_id: ShipmentId
    kind: AlertKind
    step: AlertStep
    severity: Severity
    status: Literal["raised", "suppressed", "sent", "failed", "acknowledged", "escalated"]
    at: datetime
    role: Role | None = None  # set for delivery states
    channel: ChannelName | None = None
    detail: str | None = None
