"""Leg progress, ETA and viability at arrival, derived from the tracking state.

Leg progress: the furthest stop whose geofence has a fix is the last stop reached; the
shipment has left it once a newer fix lies outside it. Without such a fix (trackers are
silent in flight, or GPS is lost) the departure is inferred from the schedule: once the
planned dwell is over and no fix has placed the shipment at the stop for
``silence_grace_min``, the leg is taken as under way since the planned departure and is
dead-reckoned at the mode's speed prior until a fix (the backlog after landing, or the
first live fix) corrects it.

ETA = end of the current leg, then each later leg in turn: it leaves at its booked time
(a flight's STD) when the cargo makes the booking's cut-off, else after the planned dwell,
and takes its booked block time, else its distance at the mode's prior. The current
leg ends, while moving with fixes, at the newest fix plus the remaining great-circle
distance over the smoothed progress speed (the observed rate at which the great-circle
distance to the leg's end shrinks over the speed window, blended with the prior); while
dwelling, at the later of the planned departure and now, plus the leg's planned time.
An arrival not yet seen is never forecast before ``now``.

Viability: the budget used up to now (up to arrival once delivered) and projected to the
ETA; and the modelled body against the lethal limits up to now (``lethal``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.eta import LegStatus, Phase, RiskReason
from services.eta.context import EtaContext
from services.eta.lethal import Exposure
from services.eta.route import RouteLeg
from services.eta.tracking import EtaState, Fix
from services.eta.viability import REFERENCE_RATE, consumption_rate, lethal_exposure, used_h
from services.geo import great_circle_km


@dataclass(frozen=True)
class LegEnd:
    phase: Phase
    ends_at: datetime  # forecast arrival at the leg's end
    remaining_km: float  # on this leg
    departed_at: datetime | None
    departure_observed: bool


@dataclass(frozen=True)
class Forecast:
    now: datetime
    eta: datetime
    phase: Phase
    leg_index: int
    leg_name: str
    legs: tuple[LegStatus, ...]
    remaining_km: float
    temp_c: float | None
    viability_used_h: float
    viability_remaining_at_eta_h: float
    viability_ends_at: datetime | None
    lethal: Exposure  # the modelled body against the lethal limits, and the loss if any

    @property
    def progress(self) -> tuple[str, ...]:
        return tuple(leg.state for leg in self.legs)


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def _reached_stop(state: EtaState) -> int:
    """The furthest stop with a fix inside its geofence (0, the origin, if none)."""
    reached = [i for i, track in enumerate(state.stops) if i > 0 and track.first_in is not None]
    return max(reached, default=0)


def forecast(state: EtaState, context: EtaContext) -> Forecast:
    if state.now is None:
        raise ValueError("no reading folded in yet: nothing to forecast from")
    route = context.route
    stop = _reached_stop(state)
    if stop == len(route.legs):
        return _delivered(state, context)
    leg = route.legs[stop]
    leg_end = _current_leg_end(state, context, leg, state.now)
    eta = _round_s(route.arrival_after(leg.index, leg_end.ends_at))
    legs = _leg_statuses(state, context, leg.index, leg_end)
    return _with_viability(
        state,
        context,
        eta=eta,
        phase=leg_end.phase,
        leg=leg,
        legs=legs,
        remaining_km=leg_end.remaining_km + route.distance_km_after(leg.index),
    )


def _current_leg_end(
    state: EtaState, context: EtaContext, leg: RouteLeg, now: datetime
) -> LegEnd:
    params = context.params
    track = state.stops[leg.index]
    arrived = track.first_in if leg.index > 0 else context.shipment.packed_at
    assert arrived is not None  # the reached stop has a fix inside it
    latest = state.latest_fix
    if latest is not None and _has_left(latest, track.last_in, leg, params.exit_radius_factor):
        departed = track.last_in if track.last_in is not None else state.first_fix_at
        return _moving_with_fixes(state, context, leg, latest, departed, now)
    planned_departure = leg.departure_after(arrived)
    seen_until = track.last_in if track.last_in is not None else arrived
    silent_for = now - seen_until
    if now > planned_departure and silent_for > timedelta(minutes=params.silence_grace_min):
        departed = max(planned_departure, seen_until)
        progress = min(1.0, _hours(now - departed) / leg.planned_h) if leg.planned_h else 1.0
        return LegEnd(
            phase="moving",
            ends_at=max(departed + timedelta(hours=leg.planned_h), now),
            remaining_km=leg.distance_km * (1 - progress),
            departed_at=departed,
            departure_observed=False,
        )
    departure = max(planned_departure, now)
    return LegEnd(
        phase="dwelling",
        ends_at=departure + timedelta(hours=leg.planned_h),
        remaining_km=leg.distance_km,
        departed_at=None,
        departure_observed=False,
    )


def _has_left(
    latest: Fix, last_in: datetime | None, leg: RouteLeg, exit_radius_factor: float
) -> bool:
    """The newest fix is after the last one inside the start's geofence, and well clear of it."""
    if last_in is not None and latest.time <= last_in:
        return False
    start = leg.start
    away_km = great_circle_km(latest.lat, latest.lon, start.lat, start.lon)
    return away_km > start.radius_km * exit_radius_factor


def _moving_with_fixes(
    state: EtaState,
    context: EtaContext,
    leg: RouteLeg,
    latest: Fix,
    departed: datetime | None,
    now: datetime,
) -> LegEnd:
    end = leg.end
    remaining_gc = great_circle_km(latest.lat, latest.lon, end.lat, end.lon)
    speed_gc = _progress_speed_gc(state, context, leg, departed)
    # The fix may be stale (GPS lost, temperatures still coming): dead-reckon from it.
    stale_h = max(0.0, _hours(now - latest.time))
    remaining_gc = max(0.0, remaining_gc - speed_gc * stale_h)
    ends_at = max(now, now + timedelta(hours=remaining_gc / speed_gc))
    return LegEnd(
        phase="moving",
        ends_at=ends_at,
        remaining_km=remaining_gc * context.params.distance_factor(leg.mode),
        departed_at=departed,
        departure_observed=departed is not None,
    )


def _progress_speed_gc(
    state: EtaState, context: EtaContext, leg: RouteLeg, departed: datetime | None
) -> float:
    """Speed towards the leg's end in great-circle km/h: observed, blended with the prior.

    Observed is the mean of two rates at which the great-circle distance to the leg's end
    shrinks: over the whole leg so far (steady) and over the trailing window (catches a
    jam or a faster road). Measuring progress rather than path speed absorbs the detour
    factor of the actual road.
    """
    params = context.params
    prior = params.speed_kmh(leg.mode) / params.distance_factor(leg.mode)
    end = leg.end
    rates = []
    latest = state.latest_fix
    if departed is not None and latest is not None:
        span_h = _hours(latest.time - departed)
        if span_h * 60 >= params.min_speed_span_min:
            closed = leg.great_circle_km - great_circle_km(latest.lat, latest.lon, end.lat, end.lon)
            rates.append((closed / span_h, span_h))
    fixes = [f for f in state.recent_fixes if departed is None or f.time > departed]
    if len(fixes) >= 2:
        first, last = fixes[0], fixes[-1]
        span_h = _hours(last.time - first.time)
        if span_h * 60 >= params.min_speed_span_min:
            closed = great_circle_km(first.lat, first.lon, end.lat, end.lon) - great_circle_km(
                last.lat, last.lon, end.lat, end.lon
            )
            rates.append((closed / span_h, span_h))
    if not rates:
        return prior
    observed = sum(rate for rate, _ in rates) / len(rates)
    observed = min(2.0 * prior, max(0.25 * prior, observed))
    evidence_h = max(span for _, span in rates)
    weight = params.observed_speed_weight * min(1.0, evidence_h * 60 / params.speed_window_min)
    return weight * observed + (1 - weight) * prior


def _leg_statuses(
    state: EtaState, context: EtaContext, current: int, leg_end: LegEnd | None
) -> tuple[LegStatus, ...]:
    statuses = []
    for leg in context.route.legs:
        if leg.index < current or leg_end is None:
            last_in = state.stops[leg.index].last_in
            statuses.append(
                LegStatus(
                    index=leg.index,
                    origin=leg.start.name,
                    destination=leg.end.name,
                    mode=leg.mode,
                    state="done",
                    departed_at=last_in,
                    arrived_at=state.stops[leg.index + 1].first_in,
                    departure_observed=last_in is not None,
                )
            )
        elif leg.index == current:
            statuses.append(
                LegStatus(
                    index=leg.index,
                    origin=leg.start.name,
                    destination=leg.end.name,
                    mode=leg.mode,
                    state="active" if leg_end.phase == "moving" else "planned",
                    departed_at=leg_end.departed_at,
                    departure_observed=leg_end.departure_observed,
                )
            )
        else:
            statuses.append(
                LegStatus(index=leg.index, origin=leg.start.name, destination=leg.end.name,
                          mode=leg.mode, state="planned")
            )
    return tuple(statuses)


def _delivered(state: EtaState, context: EtaContext) -> Forecast:
    route = context.route
    arrived = state.stops[-1].first_in
    assert arrived is not None
    last = route.legs[-1]
    return _with_viability(
        state,
        context,
        eta=arrived,
        phase="delivered",
        leg=last,
        legs=_leg_statuses(state, context, len(route.legs), None),
        remaining_km=0.0,
    )


def _with_viability(
    state: EtaState,
    context: EtaContext,
    *,
    eta: datetime,
    phase: Phase,
    leg: RouteLeg,
    legs: tuple[LegStatus, ...],
    remaining_km: float,
) -> Forecast:
    assert state.now is not None
    model = context.viability
    packed_at = context.shipment.packed_at
    bucket_min = context.params.viability_bucket_min
    # Consumption is counted up to now, or up to arrival once delivered.
    counted_until = max(packed_at, min(state.now, eta) if phase == "delivered" else state.now)
    used = used_h(state.ledger, model, packed_at, counted_until, bucket_min)
    rate = (
        consumption_rate(model, state.latest_temp_c)
        if state.latest_temp_c is not None
        else REFERENCE_RATE
    )
    left_now = model.budget_h - used
    ahead_h = max(0.0, _hours(eta - counted_until))
    ends_at = (
        None if phase == "delivered" else _round_s(counted_until + timedelta(hours=left_now / rate))
    )
    return Forecast(
        now=state.now,
        eta=eta,
        phase=phase,
        leg_index=leg.index,
        leg_name=leg.name,
        legs=legs,
        remaining_km=round(remaining_km, 3),
        temp_c=state.latest_temp_c,
        viability_used_h=round(used, 4),
        viability_remaining_at_eta_h=round(left_now - rate * ahead_h, 4),
        viability_ends_at=ends_at,
        # Up to now even once delivered: a death the tracker saw in the box is still a death,
        # and the arrival time may move earlier as readings come in (the verdict must not).
        lethal=lethal_exposure(state.ledger, context.body, packed_at, state.now),
    )


def risk_reasons(
    forecast: Forecast,
    deliver_by: datetime,
    previous: tuple[RiskReason, ...],
    hysteresis_min: float,
) -> tuple[RiskReason, ...]:
    """Why the shipment is at risk; a reason already raised clears only with a margin."""
    margin = timedelta(minutes=hysteresis_min)
    late_limit = deliver_by - margin if "late" in previous else deliver_by
    budget_floor = hysteresis_min / 60 if "viability" in previous else 0.0
    reasons: list[RiskReason] = []
    if forecast.eta > late_limit:
        reasons.append("late")
    if forecast.viability_remaining_at_eta_h < budget_floor:
        reasons.append("viability")
    return tuple(reasons)


def _round_s(time: datetime) -> datetime:
    return time.replace(microsecond=0) + timedelta(seconds=round(time.microsecond / 1e6))
