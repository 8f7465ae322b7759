"""The per-shipment tracking state and how one reading folds into it.

Readings arrive late, batched and out of order, so the state is built only from
aggregates that do not depend on arrival order, and late readings are re-scored rather
than ignored:

- per stop, the earliest and latest fix time inside its geofence (min and max);
- the newest fix, the newest temperature and the event-time clock ``now`` (max by time);
- the fixes of a trailing window behind the newest fix, one per minute (the earliest of
  each minute), for the observed speed;
- the viability ledger (coldest and warmest reading per bucket, see ``viability``).

Every aggregate is also idempotent, so a replayed reading changes nothing. Leg progress is
derived from these aggregates on demand (``forecast``), so the final state and forecast
are the same whatever order the readings came in; only fixes older than the speed window
and temperatures older than ``lateness_h`` behind the newest reading are not re-scored.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime, timedelta
from operator import attrgetter

from pydantic import BaseModel, ConfigDict

from schemas.eta import RiskReason, ViabilityState
from schemas.reading_wire import ReadingLike
from services.eta.context import EtaContext
from services.eta.viability import ViabilityLedger, record, settle
from services.geo import within_km


class Fix(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    time: datetime
    lat: float
    lon: float


class StopTrack(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    first_in: datetime | None = None  # earliest fix inside the stop's geofence
    last_in: datetime | None = None  # latest fix inside it


class Emitted(BaseModel):
    """What the last update said, to decide whether the next forecast is news."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    eta: datetime
    progress: tuple[str, ...]  # leg states, e.g. ("done", "active", "planned")
    at_risk: bool
    reasons: tuple[RiskReason, ...] = ()
    episode_id: str | None = None
    viability_state: ViabilityState = "ok"


class EtaState(BaseModel):
    """JSON-serialisable (``model_dump(mode="json")``) state of one shipment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    shipment_id: str
    now: datetime | None = None  # newest reading time seen: the event-time clock
    stops: tuple[StopTrack, ...]
    first_fix_at: datetime | None = None
    latest_fix: Fix | None = None
    recent_fixes: tuple[Fix, ...] = ()  # time-ordered
    latest_temp_at: datetime | None = None
    latest_temp_c: float | None = None
    ledger: ViabilityLedger = ViabilityLedger()
    emitted: Emitted | None = None


def new_state(context: EtaContext) -> EtaState:
    return EtaState(
        shipment_id=context.shipment.id,
        stops=tuple(StopTrack() for _ in context.route.stops),
    )


def fits(state: EtaState, context: EtaContext) -> bool:
    """False when the shipment's route changed under the state (re-registered)."""
    return state.shipment_id == context.shipment.id and len(state.stops) == len(
        context.route.stops
    )


def observe(state: EtaState, reading: ReadingLike, context: EtaContext) -> EtaState:
    """The state with one more reading folded in (no forecast, no outputs)."""
    update: dict[str, object] = {}
    if state.now is None or reading.time > state.now:
        update["now"] = reading.time
    if reading.lat is not None and reading.lon is not None:
        update.update(_observe_fix(state, Fix(time=reading.time, lat=reading.lat,
                                              lon=reading.lon), context))
    if reading.temp_c is not None:
        update.update(_observe_temperature(state, reading.time, reading.temp_c, context))
    if "now" in update:  # settled in the same copy: a state copy per reading is most of a fold's cost
        horizon = reading.time - timedelta(hours=context.params.lateness_h)
        ledger = update.get("ledger", state.ledger)
        assert isinstance(ledger, ViabilityLedger)
        update["ledger"] = settle(ledger, context.viability, context.body,
                                  context.shipment.packed_at, horizon, context.params.viability_bucket_min)
    return state.model_copy(update=update)


def _observe_fix(state: EtaState, fix: Fix, context: EtaContext) -> dict[str, object]:
    stops = []
    for track, stop in zip(state.stops, context.route.stops, strict=True):
        if within_km(fix.lat, fix.lon, stop.lat, stop.lon, stop.radius_km):
            first_in, last_in = _earliest(track.first_in, fix.time), _latest(track.last_in, fix.time)
            if (first_in, last_in) != (track.first_in, track.last_in):  # most fixes move neither
                track = StopTrack(first_in=first_in, last_in=last_in)
        stops.append(track)
    latest = state.latest_fix
    if latest is None or (fix.time, fix.lat, fix.lon) > (latest.time, latest.lat, latest.lon):
        latest = fix
    return {
        "stops": tuple(stops),
        "first_fix_at": _earliest(state.first_fix_at, fix.time),
        "latest_fix": latest,
        "recent_fixes": _window(state.recent_fixes, fix, latest.time,
                                context.params.speed_window_min),
    }


def _window(
    fixes: tuple[Fix, ...], fix: Fix, newest: datetime, window_min: float
) -> tuple[Fix, ...]:
    """The fixes within the window behind ``newest``, the earliest fix of each minute.

    ``fixes`` is such a window already (time-ordered, one a minute): the old ones are a
    prefix, and only ``fix``'s own minute can change, so this costs two bisections, not a
    rebuild per fix (which was most of the ETA's CPU on a landed backlog).
    """
    oldest = newest - timedelta(minutes=window_min)
    kept = fixes[bisect_left(fixes, oldest, key=_FIX_TIME):]
    if fix.time < oldest:
        return kept
    at = bisect_left(kept, fix.time, key=_FIX_TIME)
    minute = _minute(fix)
    for index in (at - 1, at):  # a fix of the same minute sits next to where fix would go
        if 0 <= index < len(kept) and _minute(kept[index]) == minute:
            other = kept[index]
            if (fix.time, fix.lat, fix.lon) < (other.time, other.lat, other.lon):
                return (*kept[:index], fix, *kept[index + 1:])
            return kept
    return (*kept[:at], fix, *kept[at:])


_FIX_TIME = attrgetter("time")


def _minute(fix: Fix) -> int:
    return int(fix.time.timestamp() // 60)


def _observe_temperature(
    state: EtaState, time: datetime, temp_c: float, context: EtaContext
) -> dict[str, object]:
    update: dict[str, object] = {
        "ledger": record(
            state.ledger,
            time,
            temp_c,
            context.shipment.packed_at,
            context.params.viability_bucket_min,
        )
    }
    newest = state.latest_temp_at
    if newest is None or (time, temp_c) > (newest, state.latest_temp_c or float("-inf")):
        update["latest_temp_at"] = time
        update["latest_temp_c"] = temp_c
    return update


def _earliest(current: datetime | None, time: datetime) -> datetime:
    return time if current is None or time < current else current


def _latest(current: datetime | None, time: datetime) -> datetime:
    return time if current is None or time > current else current
