"""From the upstream events (``schemas.excursion``, ``schemas.eta``) to ``AlertTrigger``.

Pure mapping; the only place that knows the upstream schemas, so a change there is
absorbed here and the policy stays as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.alert import AlertFigures, AlertStep
from schemas.eta import EtaUpdate
from schemas.excursion import ExcursionEvent
from services.alerts.trigger import AlertTrigger, TriggerStep
from services.i18n.language import N_

_EXCURSION_STEPS: dict[str, TriggerStep] = {
    "opened": "opened",
    "escalated": "escalated",
    "updated": "updated",
    "closed": "closed",
    "reopened": "opened",
    "retracted": "closed",
}
# Readings that reach ingest this long after they were taken come from a backlog (a
# tracker that was silent in flight or out of coverage), not from live tracking; a live
# tracker that batches its uploads stays well under it.
FOUND_LATE_AFTER = timedelta(minutes=15)
# Stored in English with the alert; in the catalog, so messages say them in their reader's language.
_RISK_WORDS = {
    "late": N_("ETA after deliver-by"),
    "viability": N_("viability budget runs out before arrival"),
}
_LOSS_WORDS = {
    "freezing": N_("frozen: modelled body temperature too long at the freezing limit"),
    "heat": N_("overheated: modelled body temperature too long at the heat limit"),
}


def _utc(value: datetime) -> datetime:
    # Upstream times are UTC; a naive one (never expected) is read as UTC, not local.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def trigger_from_excursion(
    event: ExcursionEvent, found_late_after: timedelta = FOUND_LATE_AFTER
) -> AlertTrigger | None:
    """The trigger of an excursion step; "updated" only refines a held announcement."""
    step = _EXCURSION_STEPS.get(event.step)
    if step is None:
        return None
    return AlertTrigger(
        trigger_id=event.id,
        shipment_id=event.shipment_id,
        kind=event.kind,
        step=step,
        severity=event.severity,
        event_time=_utc(event.event_time),
        figures=_excursion_figures(event),
        revision=event.revision,
        reopened=event.step == "reopened",
        retracted=event.step == "retracted",
        superseded_by=event.superseded_by,
        found_late=_found_late(event, found_late_after),
    )


def _found_late(event: ExcursionEvent, after: timedelta) -> bool:
    """Whether the step came from readings that arrived ``after`` or more past their time.

    The arrival lag, not the processor's ``found_late`` (re-scored), decides: a reading a
    few seconds out of order re-scores too, and a backlog uploaded in order does not.
    """
    if event.kind == "sensor_silent":  # its times are arrival times already
        return False
    if event.received_at is None:  # an older producer: re-scoring is all it says
        return event.found_late
    return _utc(event.received_at) - _utc(event.event_time) >= after


def _excursion_figures(event: ExcursionEvent) -> AlertFigures:
    limits = event.limits
    critical = event.severity == "critical"
    low: float | None = limits.critical_low_c if critical else limits.nominal_low_c
    high: float | None = limits.critical_high_c if critical else limits.nominal_high_c
    if event.kind == "humidity_low":
        low, high = limits.humidity_low_pct, None
    elif event.kind == "sensor_silent":
        low = high = None
    return AlertFigures(
        device_id=event.device_id,
        reading_time=_utc(event.event_time),
        peak_c=event.peak_c,
        humidity_pct=event.peak_humidity_pct,
        low_limit=low,
        high_limit=high,
        degree_minutes=event.degree_minutes,
        started_at=_utc(event.started_at),
        ended_at=_utc(event.ended_at) if event.ended_at else None,
        duration_min=event.duration_min,
        received_at=_utc(event.received_at) if event.received_at else None,
    )


def trigger_from_eta(update: EtaUpdate) -> AlertTrigger | None:
    """ "at_risk" opens an at-risk episode and "recovered" closes it; plain ETA moves and
    viability state changes are for the dashboard, not for phones (None): a loss is told by
    ``trigger_from_viability``."""
    if update.kind not in ("at_risk", "recovered"):
        return None
    step: AlertStep = "opened" if update.kind == "at_risk" else "closed"
    # Without an episode id, the at-risk update's own id names the episode (its recovery
    # then cannot be paired and is told on its own).
    episode = update.risk_episode_id or f"risk-{update.id}"
    return AlertTrigger(
        trigger_id=episode,
        shipment_id=update.shipment_id,
        kind="at_risk",
        step=step,
        severity="critical" if "viability" in update.risk_reasons else "warning",
        event_time=update.event_time,
        figures=AlertFigures(
            temp_c=update.temp_c,
            eta=update.eta,
            deliver_by=update.deliver_by,
            viability_left_h=update.viability_remaining_at_eta_h,
            reasons=tuple(_RISK_WORDS.get(r, r) for r in update.risk_reasons),
        ),
    )


def trigger_from_viability(update: EtaUpdate) -> AlertTrigger | None:
    """A lost shipment, told once and critical (any hour): every update of a lost shipment
    maps to the same trigger and step, so the policy tells it once whichever update comes
    first. There is no closing step: lost is for good."""
    if update.viability_state != "lost":
        return None
    reason = update.viability_lost_reason
    return AlertTrigger(
        trigger_id=f"{update.shipment_id}:viability_lost",
        shipment_id=update.shipment_id,
        kind="viability_lost",
        step="opened",
        severity="critical",
        event_time=update.event_time,
        figures=AlertFigures(
            temp_c=update.temp_c,
            eta=update.eta,
            deliver_by=update.deliver_by,
            lost_at=_utc(update.viability_lost_at) if update.viability_lost_at else None,
            reasons=(_LOSS_WORDS.get(reason, reason),) if reason else (),
        ),
    )
