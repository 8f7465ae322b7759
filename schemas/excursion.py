"""Excursions: what the excursion processor emits (topic ``coldchain.excursions``).

``Excursion`` is the record the API lists and the ``excursions`` table stores;
``ExcursionEvent`` is one step of its life, with the limits that were applied.

Identity and convergence: an excursion's ``id`` is a hash of
``(shipment_id, device_id, kind, started_at)``. Every event carries the whole current
record and a per-id ``revision`` that only grows, so a consumer that upserts by ``id``
keeping the highest ``revision`` converges on the processor's view, whatever late data
did. When late data shows that an excursion started earlier, or merges two into one,
the old id gets a ``retracted`` event (``superseded_by`` names the excursion that took
its place, when one overlaps it) and the new id its own events.

``ProfileOverride`` is the per-shipment override of a product profile's limits.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import DeviceId, ShipmentId

ExcursionKind = Literal["temp_high", "temp_low", "humidity_low", "sensor_silent"]
ExcursionSeverity = Literal["warning", "critical"]
ExcursionStep = Literal[
    "opened",  # first sight of an open excursion
    "escalated",  # warning -> critical
    "updated",  # figures (peak, degree-minutes, end) changed, same lifecycle state
    "closed",  # back in range long enough; also the first sight of one found in late data
    "reopened",  # late data showed a closed excursion had not ended
    "retracted",  # re-scoring late data removed it; see superseded_by
]


def excursion_id(shipment_id: str, device_id: str, kind: str, started_at: datetime) -> str:
    """Deterministic id: the same excursion gets the same id on every re-score and replay."""
    text = f"{shipment_id}|{device_id}|{kind}|{started_at.isoformat()}"
    return "exc-" + hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


class ProfileOverride(BaseModel):
    """Per-shipment changes to a product profile's limits; a field left None keeps the profile's.

    Meant to travel with the shipment (``Shipment.profile_override``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    nominal_low_c: float | None = None
    nominal_high_c: float | None = None
    nominal_delay_min: Annotated[float, Field(ge=0)] | None = None
    critical_low_c: float | None = None
    critical_high_c: float | None = None
    critical_delay_min: Annotated[float, Field(ge=0)] | None = None
    humidity_low_pct: Annotated[float, Field(ge=0, le=100)] | None = None
    humidity_delay_min: Annotated[float, Field(ge=0)] | None = None
    hysteresis_c: Annotated[float, Field(ge=0)] | None = None
    hysteresis_pct: Annotated[float, Field(ge=0)] | None = None
    close_after_min: Annotated[float, Field(ge=0)] | None = None
    silence_after_min: Annotated[float, Field(gt=0)] | None = None


class ExcursionLimits(BaseModel):
    """The limits an excursion was judged by: a product profile with any override applied."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile: str
    nominal_low_c: float
    nominal_high_c: float
    nominal_delay_min: float  # outside the nominal range this long -> warning
    critical_low_c: float
    critical_high_c: float
    critical_delay_min: float  # beyond a critical limit this long -> critical
    humidity_low_pct: float | None  # None: humidity is not watched
    humidity_delay_min: float
    hysteresis_c: float  # back in range means this far inside the limit
    hysteresis_pct: float
    close_after_min: float  # back in range this long -> closed
    silence_after_min: float  # no reading this long (not in the air) -> sensor_silent
    overridden: tuple[str, ...] = ()  # names of the fields a shipment override changed


class Excursion(BaseModel):
    """One excursion as the API lists it and the ``excursions`` table stores it.

    Times are the device's sample times (UTC), except for ``sensor_silent``: it starts at
    the device time of the last reading before the silence and ends when readings arrive
    again (arrival time). ``started_at`` is the first reading outside the range and
    ``ended_at`` the first reading back inside it for good (None while open).
    ``degree_minutes`` is the area beyond the nominal limit (trapezoid rule, degC x min);
    humidity excursions use ``peak_humidity_pct`` and ``humidity_pct_minutes`` instead.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    shipment_id: ShipmentId
    device_id: DeviceId
    kind: ExcursionKind
    severity: ExcursionSeverity
    started_at: datetime
    ended_at: datetime | None = None
    peak_c: float | None = None
    degree_minutes: float | None = None
    peak_humidity_pct: float | None = None
    humidity_pct_minutes: float | None = None
    duration_min: float | None = None  # ended_at - started_at; None while open
    profile: str
    revision: int = Field(ge=1)  # grows with every event about this id


class ExcursionEvent(Excursion):
    """One step in an excursion's life, keyed by shipment id on ``coldchain.excursions``."""

    step: ExcursionStep
    event_time: datetime  # device time of the reading that caused the step (see Excursion)
    limits: ExcursionLimits
    found_late: bool = False  # produced by re-scoring readings that arrived out of order
    # When the newest reading whose scoring produced this step reached ingest (its
    # ``received_at``): far after ``event_time``, the step was found in a late backlog.
    # None for sensor_silent and from producers that predate it.
    received_at: datetime | None = None
    superseded_by: str | None = None  # for "retracted": the excursion that replaced it
    shipment_mkt_c: float | None = None  # the shipment's mean kinetic temperature so far

    def excursion(self) -> Excursion:
        """The record to store (upsert by ``id`` where ``revision`` is higher)."""
        return Excursion.model_validate(self.model_dump(include=set(Excursion.model_fields)))
