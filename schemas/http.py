"""What the HTTP API answers (``/api/v1``): every JSON response body as a model.

The routes in ``services/api`` declare these as their response models, so the OpenAPI
document (``/openapi.json``) and the JSON Schemas in ``schemas/generated/`` say what each
field is. Errors are RFC 9457 problem details (``Problem``). Lists are paged with a cursor:
a full page carries ``Link: <…?cursor=…>; rel="next"`` (RFC 8288).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.alert import AlertView
from schemas.eta import EtaKind, LegStatus, LossReason, Phase, RiskReason, ViabilityState
from schemas.excursion import ExcursionKind, ExcursionLimits, ExcursionSeverity
from schemas.shipment import Shipment

# What the board says of a shipment (services/api/fleet_status.py decides it).
FleetState = Literal["lost", "excursion", "at_risk", "silent", "ok"]

# --- errors ---------------------------------------------------------------------------


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (``application/problem+json``)."""

    type: str = "about:blank"  # about:blank: the status code says it all
    title: str  # the status code's phrase
    status: int
    detail: str  # this occurrence, for a person
    instance: str | None = None  # the request's path
    # For a 422: each invalid field, as FastAPI names it (``loc``, ``msg``, ``type``).
    errors: list[dict[str, Any]] | None = None


# --- shipments ------------------------------------------------------------------------


class LastReading(BaseModel):
    time: datetime
    device_id: str
    temp_c: float | None = None
    humidity_pct: float | None = None
    lat: float | None = None
    lon: float | None = None


class StoredExcursion(BaseModel):
    """An excursion as the ``excursions`` table keeps it (``GET /shipments/{id}/excursions``)."""

    id: str
    device_id: str
    kind: ExcursionKind
    severity: ExcursionSeverity
    status: Literal["open", "closed"]
    started_at: datetime
    ended_at: datetime | None = None  # null while open
    duration_min: float | None = None
    peak_c: float | None = None
    degree_minutes: float | None = None
    peak_humidity_pct: float | None = None
    humidity_pct_minutes: float | None = None
    profile: str
    limits: ExcursionLimits | None = None
    revision: int
    found_late: bool = False


class LatestEta(BaseModel):
    """The shipment's latest ETA and viability forecast."""

    event_time: datetime
    kind: EtaKind
    eta: datetime
    deliver_by: datetime
    phase: Phase
    leg_index: int
    leg_name: str
    remaining_km: float
    temp_c: float | None = None
    viability_used_h: float
    viability_remaining_at_eta_h: float
    viability_ends_at: datetime | None = None
    viability_state: ViabilityState | None = None
    viability_lost_at: datetime | None = None
    viability_lost_reason: LossReason | None = None
    at_risk: bool
    risk_reasons: list[RiskReason] = []


class ShipmentStatus(BaseModel):
    """``GET /api/v1/shipments/{id}``: the registration and where it stands."""

    shipment: Shipment
    last_reading: LastReading | None
    open_excursions: list[StoredExcursion]
    eta: LatestEta | None


# --- the fleet board ------------------------------------------------------------------


class FleetExcursion(BaseModel):
    id: str
    kind: ExcursionKind
    severity: ExcursionSeverity
    device_id: str
    started_at: datetime
    peak_c: float | None = None


class FleetForecast(BaseModel):
    eta: datetime
    phase: Phase
    leg_name: str
    at_risk: bool
    risk_reasons: list[RiskReason] = []
    viability_remaining_at_eta_h: float
    viability_used_h: float
    remaining_km: float
    legs: list[LegStatus]
    viability_state: ViabilityState | None = None
    event_time: datetime


class FleetSummary(BaseModel):
    """One shipment on the board (``GET /api/v1/fleet``)."""

    id: str
    state: FleetState
    state_text: str
    viability: ViabilityState
    viability_lost_at: datetime | None = None
    viability_lost_reason: LossReason | None = None
    critical_excursions: int
    worst_severity: ExcursionSeverity | None = None
    product: str
    seller: str
    buyer: str
    deliver_by: datetime
    packed_at: datetime | None = None
    cancelled_at: datetime | None = None
    last_reading_at: datetime | None = None
    last_temp_c: float | None = None
    open_excursions: list[FleetExcursion]
    forecast: FleetForecast | None = None
    shipment: Shipment


class FleetShipment(FleetSummary):
    """``GET /api/v1/fleet/{id}``: with the temperature limits the shipment is judged by."""

    limits: ExcursionLimits | None = None


# --- dead letters and the audit log ---------------------------------------------------


class DeadLetterItem(BaseModel):
    """A refused payload, without its bytes (their size and SHA-256 say which they were)."""

    id: str
    received_at: datetime
    stage: str
    mqtt_topic: str
    device_id: str | None = None
    reason: str
    errors: list[dict[str, Any]]
    errors_omitted: int = 0
    payload_size: int | None = None
    payload_sha256: str | None = None


class DeadLetterPage(BaseModel):
    """``GET /api/v1/deadletters``: how many match in all, and a page of them, newest first."""

    total: int
    items: list[DeadLetterItem]


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    table_name: str
    row_key: str | None = None
    old: Any = None
    new: Any = None


# --- alerts, the feed, share links ----------------------------------------------------


class AckResult(BaseModel):
    alert_id: str
    acknowledged: bool  # true once acknowledged, by this call or an earlier one
    by_this_call: bool


class SmsReplyResult(BaseModel):
    """``POST /api/v1/sms/inbound``: the alert the reply acknowledged."""

    alert_id: str


class FeedTicket(BaseModel):
    ticket: str
    expires_at: datetime
    role: str  # who the ticket speaks for, so a client can tell what it may do
    party: str | None


class LinkIn(BaseModel):
    party: Literal["seller", "buyer"]
    days: int | None = Field(default=None, ge=1, le=90)  # default: until deliver_by + 7 days


class LinkOut(BaseModel):
    id: str
    shipment_id: str
    party: str
    url: str | None = None  # only in the answer that made it: the token is not kept
    expires_at: datetime
    revoked_at: datetime | None = None
    created_by: str
    channel: str | None = None


# Every response model, for schemas/generate.py (``make schemas``).
HTTP_MODELS: tuple[type[BaseModel], ...] = (
    Problem, ShipmentStatus, StoredExcursion, FleetSummary, FleetShipment, DeadLetterPage, AuditEntry,
    AckResult, SmsReplyResult, FeedTicket, LinkOut, AlertView,
)
