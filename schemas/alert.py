"""Alerts raised from excursion and ETA events, and their deliveries (contract section 3).

``Alert`` is what the alert service stores in its outbox (table ``alerts``) and formats
into emails and SMS; ``AlertEvent`` travels on ``coldchain.alerts`` for the live feed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.common import ShipmentId
from schemas.shipment import LegMode, TimezoneSource

AlertKind = Literal["temp_high", "temp_low", "humidity_low", "sensor_silent", "at_risk", "viability_lost"]
AlertStep = Literal["opened", "escalated", "closed"]
Severity = Literal["warning", "critical"]
Role = Literal["seller", "buyer", "ops"]
ChannelName = Literal["email", "sms", "webhook"]
DeliveryStatus = Literal["pending", "sending", "sent", "failed"]
SmsEncoding = Literal["GSM-7", "UCS-2"]
# What the alert service itself does to an alert; an acknowledgement is the recipient's, kept on the
# alert (the API's AlertView), not a feed event.
AlertEventStatus = Literal["raised", "suppressed", "sent", "failed", "escalated"]

STEP_ORDER: dict[str, int] = {"opened": 0, "escalated": 1, "closed": 2}
SEVERITY_ORDER: dict[str, int] = {"warning": 0, "critical": 1}


class AlertPlace(BaseModel):
    """Where the shipment was at a time, from the registered route's booked legs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str  # "flight Halifax Stanfield (YHZ) -> Shanghai Pudong (PVG)", "at Shanghai Pudong (PVG)"
    short: str  # the same for an SMS: "flight YHZ->PVG"
    leg_index: int | None = None  # the leg under way (leg i ends at stop i + 1); None at a stop
    mode: LegMode | None = None
    # The zone of the place it was at, or last left when under way; None when unknown.
    timezone: str | None = None
    # The same place as parts, so a message can say it in the recipient's language: the
    # stop it was at (or the leg's start) and, under way, the leg's end; short = SMS form.
    # None on alerts stored before they were recorded: ``name`` and ``short`` are used then.
    start_name: str | None = None
    start_short: str | None = None
    end_name: str | None = None
    end_short: str | None = None


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
    duration_min: float | None = None
    # When the readings that revealed the step reached the service (found-late steps).
    received_at: datetime | None = None
    place: AlertPlace | None = None  # where the shipment was when it started
    eta: datetime | None = None
    deliver_by: datetime | None = None
    viability_left_h: float | None = None
    lost_at: datetime | None = None  # when a lethal limit was reached (viability_lost)
    reasons: tuple[str, ...] = ()


class Alert(BaseModel):
    """One lifecycle step of one trigger (an excursion, an at-risk episode, a lost shipment).

    ``id`` is a hash of ``(trigger_id, step)``, so a redelivered event maps to the same
    alert. ``suppressed`` holds why no one is told (flapping), or None.

    ``found_late``: the first anyone hears of this trigger, and it comes from readings
    that arrived late (a tracker's backlog after a flight). Its step is ``opened`` even
    when the excursion is already over (``figures.ended_at``): the message says that it
    happened, when, and that it was found late. Its deliveries wait until ``hold_until``
    for the rest of the backlog; until they go, later steps refine it in place (same id,
    higher ``version``) instead of being told apart.
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
    found_late: bool = False
    hold_until: datetime | None = None  # UTC; its deliveries go no earlier (found late)
    version: int = 1  # > 1: a refinement of the stored, not yet sent alert of this id


class DeliveryView(BaseModel):
    """One (alert, recipient, channel) delivery as the API lists it."""

    model_config = ConfigDict(frozen=True)

    role: Role
    channel: ChannelName
    status: DeliveryStatus
    attempts: int
    # The earliest time it may go: later than created_at when deferred past quiet hours
    # (null on deliveries planned before it was stored).
    not_before: datetime | None = None
    deferred: bool = False
    next_attempt_at: datetime | None = None  # the next try: not_before, or a retry's backoff
    created_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None
    acknowledged_at: datetime | None = None
    timezone: str | None = None  # the zone its local times are written in
    timezone_source: TimezoneSource | None = None
    language: str | None = None
    sms_encoding: SmsEncoding | None = None  # for a sent SMS
    sms_segments: int | None = None


class AlertView(Alert):
    """An alert with the state of its deliveries (``GET /api/v1/shipments/{id}/alerts``)."""

    raised_at: datetime
    acknowledged: bool
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    escalated_at: datetime | None = None
    deliveries: list[DeliveryView] = []


class AlertEvent(BaseModel):
    """An alert raised, or a change in the state of one of its deliveries (live feed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: str
    shipment_id: ShipmentId
    kind: AlertKind
    step: AlertStep
    severity: Severity
    status: AlertEventStatus
    at: datetime
    role: Role | None = None  # set for delivery states
    channel: ChannelName | None = None
    detail: str | None = None


def alert_event(
    alert: Alert,
    status: AlertEventStatus,
    at: datetime,
    *,
    role: Role | None = None,
    channel: ChannelName | None = None,
    detail: str | None = None,
) -> AlertEvent:
    """The feed event of ``alert`` reaching ``status`` at ``at`` (the one way one is built)."""
    return AlertEvent(
        alert_id=alert.id,
        shipment_id=alert.shipment_id,
        kind=alert.kind,
        step=alert.step,
        severity=alert.severity,
        status=status,
        at=at,
        role=role,
        channel=channel,
        detail=detail,
    )
