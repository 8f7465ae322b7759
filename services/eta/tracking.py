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
from collections.abc import Iterable
from datetime import datetime, timedelta
from operator import itemgetter

from pydantic import BaseModel, ConfigDict

from schemas.eta import RiskReason, ViabilityState
from schemas.reading_wire import ReadingLike
from services.eta.context import EtaContext
from services.eta.viability import LedgerFold, ViabilityLedger
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


def fold(state: EtaState, readings: Iterable[ReadingLike], context: EtaContext) -> EtaState:
    """The state with ``readings`` folded in one after the other (no forecast, no outputs).

    One copy of the state for all of them, its times compared as epoch seconds: a frozen state
    copied for each reading, and datetimes of two time zone classes compared, were most of the
    ETA's CPU on a landed backlog. The result is what folding them one at a time gives.
    """
    folding = _Folding(state, context)
    for reading in readings:
        folding.add(reading)
    return folding.state()


# A fix being folded: (epoch seconds, lat, lon, time, the Fix it came from or None); its first
# three order fixes as (time, lat, lon) do.
_Entry = tuple[float, float, float, datetime, "Fix | None"]


class _Folding:
    __slots__ = ("_state", "_context", "_now", "_ledger", "_fixes", "_temp")

    def __init__(self, state: EtaState, context: EtaContext) -> None:
        self._state, self._context = state, context
        self._now = _stamp(state.now)
        self._ledger = LedgerFold(state.ledger, context.shipment.packed_at, context.params.viability_bucket_min)
        self._fixes: _FixFold | None = None  # made on the first fix
        self._temp = None if state.latest_temp_at is None else (
            state.latest_temp_at.timestamp(), state.latest_temp_at, state.latest_temp_c)

    def add(self, reading: ReadingLike) -> None:
        time = reading.time
        ts = time.timestamp()
        advanced = self._now is None or ts > self._now[0]
        if advanced:
            self._now = (ts, time)
        if reading.lat is not None and reading.lon is not None:
            if self._fixes is None:
                self._fixes = _FixFold(self._state, self._context)
            self._fixes.add((ts, reading.lat, reading.lon, time, None))
        if reading.temp_c is not None:
            self._ledger.record(ts, reading.temp_c)
            latest = self._temp
            if latest is None or (ts, reading.temp_c) > (latest[0], latest[2] or float("-inf")):
                self._temp = (ts, time, reading.temp_c)
        if advanced:
            context = self._context
            self._ledger.settle(context.viability, context.body, time - timedelta(hours=context.params.lateness_h))

    def state(self) -> EtaState:
        update: dict[str, object] = {"ledger": self._ledger.ledger()}
        if self._now is not None:
            update["now"] = self._now[1]
        if self._temp is not None:
            update["latest_temp_at"], update["latest_temp_c"] = self._temp[1], self._temp[2]
        if self._fixes is not None:
            update.update(self._fixes.fields())
        return self._state.model_copy(update=update)


class _FixFold:
    """The fix aggregates of a fold: each stop's first and last fix inside its geofence, the
    first fix, the newest one and the speed window."""

    __slots__ = ("_state", "_stops", "_tracks", "_first", "_latest", "_window", "_span", "_oldest",
                 "_at", "_inside")

    def __init__(self, state: EtaState, context: EtaContext) -> None:
        self._state = state
        self._stops = context.route.stops
        self._tracks = [(_stamp(track.first_in), _stamp(track.last_in)) for track in state.stops]
        self._first = _stamp(state.first_fix_at)
        self._latest = None if state.latest_fix is None else _entry(state.latest_fix)
        self._window = [_entry(fix) for fix in state.recent_fixes]
        self._span = timedelta(minutes=context.params.speed_window_min)
        self._oldest = 0.0 if self._latest is None else self._edge(self._latest)
        self._at: tuple[float, float] | None = None  # the last position looked up
        self._inside: list[int] = []  # the stops it is inside

    def add(self, fix: _Entry) -> None:
        ts, time = fix[0], fix[3]
        for index in self._inside_of(fix[1], fix[2]):
            first_in, last_in = self._tracks[index]
            self._tracks[index] = (_earlier(first_in, ts, time), _later(last_in, ts, time))
        self._first = _earlier(self._first, ts, time)
        if self._latest is None or fix[:3] > self._latest[:3]:
            self._latest = fix
            self._oldest = self._edge(fix)
        _window(self._window, fix, self._oldest)

    def fields(self) -> dict[str, object]:
        assert self._latest is not None and self._first is not None
        return {
            "stops": tuple(_track(old, new) for old, new in zip(self._state.stops, self._tracks, strict=True)),
            "first_fix_at": self._first[1],
            "latest_fix": _fix(self._latest),
            "recent_fixes": tuple(_fix(entry) for entry in self._window),
        }

    def _inside_of(self, lat: float, lon: float) -> list[int]:
        if self._at != (lat, lon):  # a tracker standing still sends the same position: the same answer
            self._at = (lat, lon)
            self._inside = [index for index, stop in enumerate(self._stops)
                            if within_km(lat, lon, stop.lat, stop.lon, stop.radius_km)]
        return self._inside

    def _edge(self, latest: _Entry) -> float:
        # Through a datetime: the window starts where timedelta arithmetic puts it, to the microsecond.
        return (latest[3] - self._span).timestamp()


def _window(fixes: list[_Entry], fix: _Entry, oldest: float) -> None:
    """Keeps ``fixes`` the speed window after ``fix``: the fixes since ``oldest`` (epoch
    seconds), time-ordered, the earliest of each minute.

    ``fixes`` is such a window already: the old ones are a prefix, and only ``fix``'s own
    minute can change, so this costs two bisections, not a rebuild per fix.
    """
    drop = bisect_left(fixes, oldest, key=_SECONDS)
    if drop:
        del fixes[:drop]
    if fix[0] < oldest:
        return
    at = bisect_left(fixes, fix[0], key=_SECONDS)
    minute = fix[0] // 60
    for index in (at - 1, at):  # a fix of the same minute sits next to where fix would go
        if 0 <= index < len(fixes) and fixes[index][0] // 60 == minute:
            if fix[:3] < fixes[index][:3]:
                fixes[index] = fix
            return
    fixes.insert(at, fix)


_SECONDS = itemgetter(0)


def _entry(fix: Fix) -> _Entry:
    return (fix.time.timestamp(), fix.lat, fix.lon, fix.time, fix)


def _fix(entry: _Entry) -> Fix:
    return entry[4] if entry[4] is not None else Fix(time=entry[3], lat=entry[1], lon=entry[2])


Stamp = tuple[float, datetime]  # a time and its epoch seconds


def _stamp(time: datetime | None) -> Stamp | None:
    return None if time is None else (time.timestamp(), time)


def _earlier(current: Stamp | None, ts: float, time: datetime) -> Stamp:
    return (ts, time) if current is None or ts < current[0] else current


def _later(current: Stamp | None, ts: float, time: datetime) -> Stamp:
    return (ts, time) if current is None or ts > current[0] else current


def _track(old: StopTrack, new: tuple[Stamp | None, Stamp | None]) -> StopTrack:
    first_in, last_in = (None if stamp is None else stamp[1] for stamp in new)
    return old if (first_in, last_in) == (old.first_in, old.last_in) else StopTrack(first_in=first_in, last_in=last_in)
