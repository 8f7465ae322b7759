"""The alert service's own input: one lifecycle step of something worth telling people."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator

from schemas.alert import AlertFigures, AlertKind, AlertStep, Severity
from schemas.common import ShipmentId

# "updated": only the figures moved. Nobody is told of that, but it refines a found-late
# announcement that is still held (see policy.decide).
TriggerStep = AlertStep | Literal["updated"]


class AlertTrigger(BaseModel):
    """An excursion step or an at-risk episode step, independent of the upstream schemas.

    ``trigger_id`` names the whole lifecycle (one excursion, one at-risk episode), so all
    its steps share it; ``event_time`` is the event time of this step.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    trigger_id: str
    shipment_id: ShipmentId
    kind: AlertKind
    step: TriggerStep
    severity: Severity
    event_time: AwareDatetime
    figures: AlertFigures = AlertFigures()
    # Upstream per-trigger revision that only grows (excursions have one): an event at or
    # below the last revision seen is a replay and changes nothing.
    revision: int | None = None
    # Late data showed a closed trigger had not ended: its steps start over (step "opened").
    reopened: bool = False
    # Re-scoring removed the trigger (step "closed"); ``superseded_by`` took its place.
    retracted: bool = False
    superseded_by: str | None = None
    # Revealed by readings that arrived well after they were taken (a tracker's backlog):
    # if this is the first anyone hears of the trigger, it is told as found late.
    found_late: bool = False

    @field_validator("event_time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)
