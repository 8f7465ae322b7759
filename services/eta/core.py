"""The ETA processor's pure step: ``(state, reading) -> (state, updates)``.

No Kafka or faust here: the stream adapter (``services.eta.app``) loads the state, calls
``apply_reading`` and forwards the updates. An update is emitted when the forecast is
news: the first forecast, a leg starting or ending, the ETA moving by more than
``eta_threshold_min`` since the last update ("eta"), the shipment becoming at risk or
gaining a risk reason ("at_risk"), losing its last one ("recovered"), or its viability state
changing ("viability"). A loss the forecast finds is kept in the state: lost stays lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta

from schemas.eta import EtaKind, EtaUpdate, RiskReason, ViabilityState
from schemas.reading_wire import ReadingLike
from services.eta.context import EtaContext
from services.eta.forecast import Forecast, forecast, risk_reasons
from services.eta.tracking import Emitted, EtaState, fits, fold, new_state
from services.eta.viability import keep_loss

__all__ = ["EtaState", "apply_reading", "apply_readings", "current_forecast", "new_state"]


def apply_reading(
    state: EtaState | None, reading: ReadingLike, context: EtaContext
) -> tuple[EtaState, list[EtaUpdate]]:
    """Fold one reading into the shipment's state; the updates worth publishing."""
    return apply_readings(state, [reading], context)


def apply_readings(
    state: EtaState | None, readings: Sequence[ReadingLike], context: EtaContext
) -> tuple[EtaState, list[EtaUpdate]]:
    """Fold a record's readings (one message's) into the shipment's state, then forecast once
    from where they leave it; the updates worth publishing.

    A forecast walks the rest of the journey (the viability budget, the body model): ~1 ms,
    most of the processor's time. A landed backlog of 100 readings was 100 forecasts, each
    stale the moment the next reading of the same record was folded in; now it is one, as
    of the newest. Losses are not missed: the lethal model walks every bucket since packing
    from the state, whatever order and grouping the readings came in (``services.eta.lethal``).
    """
    if not readings:
        raise ValueError("no readings to fold in")
    if state is None or not fits(state, context):
        state = new_state(context)
    state = fold(state, readings, context)
    current = forecast(state, context)
    state = state.model_copy(update={"ledger": keep_loss(state.ledger, current.lethal.loss)})
    previous = state.emitted
    reasons = risk_reasons(
        current,
        context.shipment.deliver_by,
        previous.reasons if previous else (),
        context.params.risk_hysteresis_min,
    )
    viability = viability_state(current, reasons)
    kind = _news(previous, current, reasons, viability, context.params.eta_threshold_min)
    if kind is None:
        return state, []
    episode = _episode_id(previous, kind, context.shipment.id, current)
    update = _update(context, current, kind, reasons, episode, viability)
    emitted = Emitted(
        eta=current.eta,
        progress=current.progress,
        at_risk=bool(reasons),
        reasons=reasons,
        episode_id=episode if reasons else None,
        viability_state=viability,
    )
    return state.model_copy(update={"emitted": emitted}), [update]


def current_forecast(state: EtaState, context: EtaContext) -> Forecast:
    """The forecast the state stands for now (for status queries and the bench)."""
    return forecast(state, context)


def viability_state(current: Forecast, reasons: tuple[RiskReason, ...]) -> ViabilityState:
    """Lost to a lethal limit; compromised by touching one, or by a budget that runs out
    before arrival (the "viability" risk, with its hysteresis); else ok."""
    if current.lethal.loss is not None:
        return "lost"
    if current.lethal.touched or "viability" in reasons:
        return "compromised"
    return "ok"


def _news(
    previous: Emitted | None,
    current: Forecast,
    reasons: tuple[RiskReason, ...],
    viability: ViabilityState,
    threshold_min: float,
) -> EtaKind | None:
    at_risk = bool(reasons)
    if previous is None:
        return "at_risk" if at_risk else "eta"
    if at_risk and (not previous.at_risk or set(reasons) - set(previous.reasons)):
        return "at_risk"
    if previous.at_risk and not at_risk:
        return "recovered"
    if viability != previous.viability_state:
        return "viability"
    moved = abs(current.eta - previous.eta) > timedelta(minutes=threshold_min)
    if moved or current.progress != previous.progress:
        return "eta"
    return None


def _episode_id(
    previous: Emitted | None, kind: EtaKind, shipment_id: str, current: Forecast
) -> str | None:
    if previous is not None and previous.episode_id is not None:
        return previous.episode_id  # the episode goes on, or "recovered" closes it
    if kind == "at_risk":
        return f"{shipment_id}:at_risk:{current.now.isoformat()}"
    return None


def _update(
    context: EtaContext,
    current: Forecast,
    kind: EtaKind,
    reasons: tuple[RiskReason, ...],
    episode: str | None,
    viability: ViabilityState,
) -> EtaUpdate:
    shipment_id = context.shipment.id
    loss = current.lethal.loss
    fingerprint = "|".join(
        [shipment_id, kind, current.now.isoformat(), current.eta.isoformat(),
         ",".join(current.progress), ",".join(reasons), viability]
    )
    return EtaUpdate(
        id=hashlib.sha256(fingerprint.encode()).hexdigest()[:32],
        shipment_id=shipment_id,
        kind=kind,
        event_time=current.now,
        eta=current.eta,
        deliver_by=context.shipment.deliver_by,
        phase=current.phase,
        leg_index=current.leg_index,
        leg_name=current.leg_name,
        legs=list(current.legs),
        remaining_km=current.remaining_km,
        temp_c=current.temp_c,
        viability_used_h=current.viability_used_h,
        viability_remaining_at_eta_h=current.viability_remaining_at_eta_h,
        viability_ends_at=current.viability_ends_at,
        viability_state=viability,
        viability_lost_at=loss.at if loss else None,
        viability_lost_reason=loss.reason if loss else None,
        at_risk=bool(reasons),
        risk_reasons=list(reasons),
        risk_episode_id=episode,
    )
