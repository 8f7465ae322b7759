"""Excursion scoring: ``(state, readings) -> (state, events)``, in event time.

The pure core of the excursion processor; it imports no Kafka, faust or database client.

Order independence. Each device's readings are scored in device-time order
(``tracker``). A batch newer than everything seen is scored incrementally, O(1) per
reading. A batch holding a reading older than the newest one seen (late, or a
store-and-forward dump arriving after live readings) is merged into the device's
sorted readings and scoring resumes from the last checkpoint before its earliest
reading; the excursions affected are re-built. So the final excursions depend only on
the set of readings, not on arrival order or batching (a hypothesis test checks it).
A reading whose ``(device_id, time)`` was seen already is ignored.

Outputs converge. Events are computed as the difference between what consumers were
last told (``DeviceState.published``) and the current excursions, so re-scoring emits
only what changed: ``opened`` / ``escalated`` / ``closed`` on the live path, and for
late data also ``updated``, ``reopened`` and ``retracted`` (with ``superseded_by``).
Ids are deterministic from ``(shipment, device, kind, started_at)``; an excursion whose
start moves because late data shows it began earlier is a new id, and the old one is
retracted in favour of it (the retraction comes before the successor's events of the same
batch). Every event carries the whole record and a growing
``revision``: upserting by id, keeping the highest revision, converges. While an
excursion is open on the live path, figures are re-published (``updated``) only when
its peak moves by ``ScoringConfig.peak_step_c`` (or ``peak_step_pct``); the closing
event carries the final figures.

Ownership: the functions update the state they are given in place and return it
(copying a device's history per reading would defeat O(1) scoring); a caller that
needs the old state must not pass it in (the faust agent loads a fresh copy each time).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter, itemgetter

from schemas.excursion import Excursion, ExcursionEvent, ExcursionLimits, excursion_id
from schemas.reading_wire import ReadingLike
from services.excursions.episodes import (
    CLOSED,
    OPENED,
    PEAK_MOVED,
    Episode,
    Rule,
    step,
)
from services.excursions.mkt import mkt_from
from services.excursions.state import (
    ClosedExcursion,
    DeviceState,
    Published,
    Sample,
    Segment,
    SegmentBody,
    ShipmentState,
    Silence,
    new_device,
)

_SEVERITY = {1: "warning", 2: "critical"}
_SEVERITY_RANK = {"warning": 1, "critical": 2}
_SAMPLE_TIME = itemgetter(0)
_SEGMENT_TIME = attrgetter("t")


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    horizon_h: float = 36.0  # how late a reading may be (device time) and still be scored
    checkpoint_every: int = 64  # readings between checkpoints: the cost of one late reading
    peak_step_c: float = 0.5  # re-publish an open excursion when its peak moves this much
    peak_step_pct: float = 2.0


DEFAULT_CONFIG = ScoringConfig()


def new_state(shipment_id: str) -> ShipmentState:
    return ShipmentState(shipment_id=shipment_id)


def rules_for(limits: ExcursionLimits) -> tuple[Rule, Rule, Rule]:
    """The three threshold rules, in the order of ``Run.episodes``."""
    close_s = limits.close_after_min * 60
    temperature = {
        "delay_s": limits.nominal_delay_min * 60,
        "critical_delay_s": limits.critical_delay_min * 60,
        "hysteresis": limits.hysteresis_c,
        "close_after_s": close_s,
    }
    humidity_low = limits.humidity_low_pct if limits.humidity_low_pct is not None else -math.inf
    return (
        Rule(
            "temp_high",
            field=1,
            sign=1.0,
            limit=limits.nominal_high_c,
            critical_limit=limits.critical_high_c,
            **temperature,
        ),
        Rule(
            "temp_low",
            field=1,
            sign=-1.0,
            limit=limits.nominal_low_c,
            critical_limit=limits.critical_low_c,
            **temperature,
        ),
        Rule(
            "humidity_low",
            field=2,
            sign=-1.0,
            limit=humidity_low,  # -inf: humidity not watched
            delay_s=limits.humidity_delay_min * 60,
            critical_limit=None,
            critical_delay_s=0.0,
            hysteresis=limits.hysteresis_pct,
            close_after_s=close_s,
        ),
    )


def apply_readings(
    state: ShipmentState,
    readings: Iterable[ReadingLike],
    limits: ExcursionLimits,
    config: ScoringConfig = DEFAULT_CONFIG,
) -> tuple[ShipmentState, list[ExcursionEvent]]:
    """Scores a batch of one shipment's readings (any order, any devices, duplicates allowed)."""
    by_device: dict[str, list[ReadingLike]] = {}
    for reading in readings:
        by_device.setdefault(reading.device_id, []).append(reading)
    events: list[ExcursionEvent] = []
    for device_id, batch in by_device.items():
        device = state.devices.get(device_id)
        if device is None:
            device = state.devices[device_id] = new_device(device_id)
        scorer = _DeviceScorer(state.shipment_id, device, limits, config)
        events.extend(scorer.apply(batch))
    return state, _with_mkt(state, events)


def apply_each(
    state: ShipmentState,
    readings: Iterable[ReadingLike],
    limits: ExcursionLimits,
    config: ScoringConfig = DEFAULT_CONFIG,
    unscored: list[tuple[ReadingLike, LookupError]] | None = None,
) -> tuple[ShipmentState, list[ExcursionEvent]]:
    """The state and events of ``apply_readings`` called with each reading alone, in order, in
    one pass: an excursion that opens and closes within ``readings`` is told as opened, then
    as closed, as it was when each reading arrived on its own (tests/unit/excursions check the
    two agree on generated streams).

    Except for late readings that arrived together: a run of one device's readings of one
    message (one ``received_at``), each older than what the device has scored, is re-scored
    once, as one late batch. They did arrive at once, and re-scoring them one by one re-scored
    the device's whole tail for every one of them: a message overtaken by the next one (a
    tracker's upload on landing) cost ~130 rule steps per reading instead of ~2. The state is
    the same either way (scoring is order-independent); what is told differs only in
    intermediate revisions of excursions the late batch changes, e.g. one that the batch shows
    opened and closed is told once, as closed and found late.

    A landed backlog is hundreds of one device's readings at once; a call per reading built
    the rules and a scorer each time, which was most of the scoring time.

    With ``unscored`` given, a reading whose stored history cannot be read (a ``LookupError``
    from the state's segments, raised before that reading changed anything) is listed there
    and the others are scored; without it, the error is raised.
    """
    scorers: dict[str, _DeviceScorer] = {}
    rules = rules_for(limits)
    events: list[ExcursionEvent] = []
    arrived = list(readings)
    at, count = 0, len(arrived)
    while at < count:
        reading = arrived[at]
        scorer = scorers.get(reading.device_id)
        if scorer is None:
            device = state.devices.get(reading.device_id)
            if device is None:
                device = state.devices[reading.device_id] = new_device(reading.device_id)
            scorer = scorers[reading.device_id] = _DeviceScorer(state.shipment_id, device, limits, config, rules)
        end = _late_run_end(arrived, at, scorer.device.run.last_t)
        batch = arrived[at:end]
        at = end
        try:
            found = scorer.apply(batch)
        except LookupError as exc:
            if unscored is None:
                raise
            unscored.extend((late, exc) for late in batch)
            continue
        if found:
            events.extend(_with_mkt(state, found))
    return state, events


def _late_run_end(readings: list[ReadingLike], at: int, last_t: float) -> int:
    """The end of the run that starts at ``at``: just that reading, unless it is late (not after
    ``last_t``, its device's newest scored time), then every reading after it of the same
    device and message (``received_at``) that is late too."""
    first = readings[at]
    end = at + 1
    if end == len(readings) or first.time.timestamp() > last_t:
        return end
    device_id, received_at = first.device_id, first.received_at
    while end < len(readings):
        after = readings[end]
        if after.device_id != device_id or after.received_at != received_at or after.time.timestamp() > last_t:
            break
        end += 1
    return end


def check_silence(
    state: ShipmentState, now: datetime, in_air: bool, limits: ExcursionLimits
) -> tuple[ShipmentState, list[ExcursionEvent]]:
    """Opens ``sensor_silent`` for each device quiet for ``silence_after_min`` (arrival clock).

    Silence is expected in flight, so nothing opens while ``in_air``. It closes when the
    device's readings arrive again (``apply_readings``); their true times then score the
    gap like any late data. A device that never sent a reading is not watched.
    """
    events: list[ExcursionEvent] = []
    quiet_after = limits.silence_after_min * 60
    now_s = now.timestamp()
    for device in state.devices.values():
        if in_air or device.last_received_at is None:
            continue
        if device.silence is not None and device.silence.open:
            continue
        if now_s - device.last_received_at < quiet_after:
            continue
        started = device.run.last_t
        silence_id = excursion_id(state.shipment_id, device.device_id, "sensor_silent", _dt(started))
        previous = device.silence
        revision = previous.revision + 1 if previous and previous.id == silence_id else 1
        device.silence = Silence(silence_id, started, revision)
        events.append(_silence_event(state.shipment_id, device, limits, "opened", None, now_s, revision))
    return state, _with_mkt(state, events)


def excursions(state: ShipmentState, limits: ExcursionLimits) -> list[Excursion]:
    """The current excursions still held in state (open ones and recently closed ones)."""
    found: list[Excursion] = []
    rules = rules_for(limits)
    for device in state.devices.values():
        for view in _views(device, rules).values():
            published = device.published.get(view.id)
            found.append(
                _record(
                    state.shipment_id,
                    device.device_id,
                    view,
                    limits.profile,
                    published.revision if published else 1,
                )
            )
    return sorted(found, key=lambda e: (e.device_id, e.started_at, e.kind))


def shipment_mkt_c(state: ShipmentState) -> float | None:
    """Mean kinetic temperature of all the shipment's devices' readings so far."""
    return mkt_from(device.run.mkt for device in state.devices.values())


def device_mkt_c(state: ShipmentState, device_id: str) -> float | None:
    device = state.devices.get(device_id)
    return mkt_from([device.run.mkt]) if device else None


@dataclass(slots=True)
class _View:
    """An excursion as scoring sees it now."""

    id: str
    kind: str
    severity: str
    started_at: float
    ended_at: float | None
    peak: float
    amount: float  # degree-minutes or %RH-minutes, rounded
    opened_at: float
    escalated_at: float | None
    confirmed_at: float | None


class _DeviceScorer:
    """Scores one device's part of a batch; lives for one call."""

    def __init__(self, shipment_id: str, device: DeviceState, limits: ExcursionLimits, config: ScoringConfig,
                 rules: tuple[Rule, Rule, Rule] | None = None) -> None:
        self.shipment_id = shipment_id
        self.device = device
        self.limits = limits
        self.config = config
        self.rules = rules if rules is not None else rules_for(limits)
        self.touched: set[str] = set()
        self.arrived: datetime | None = None  # the batch's newest arrival, told on its events

    def apply(self, batch: list[ReadingLike]) -> list[ExcursionEvent]:
        # Called once per reading of a landed backlog (apply_each): each time is converted
        # once, and a batch of one takes no generator, dict or sort.
        if len(batch) == 1:
            self.arrived = batch[0].received_at
            first_arrival = last_arrival = self.arrived.timestamp()  # once: 0.5 µs a reading here
        else:
            first, self.arrived = min(r.received_at for r in batch), max(r.received_at for r in batch)
            first_arrival, last_arrival = first.timestamp(), self.arrived.timestamp()
        times = [reading.time.timestamp() for reading in batch]
        events = self._note_arrival(batch, times, first_arrival, last_arrival)
        fresh = self._fresh_samples(batch, times)
        if fresh:
            if fresh[0][0] > self.device.run.last_t:
                for sample in fresh:
                    self._score(sample)
                events.extend(self._diff(self.touched, found_late=False))
            else:
                events.extend(self._rescore(fresh))
            self._compact()
        return events

    # -- arrival bookkeeping: silence, position -------------------------------------------

    def _note_arrival(self, batch: list[ReadingLike], times: list[float], first_arrival: float,
                      last_arrival: float) -> list[ExcursionEvent]:
        device = self.device
        if device.last_received_at is None or last_arrival > device.last_received_at:
            device.last_received_at = last_arrival
        for reading, t in zip(batch, times, strict=True):
            if reading.lat is None or reading.lon is None:
                continue
            if device.last_position is None or t >= device.last_position[0]:
                device.last_position = (t, reading.lat, reading.lon)
                device.last_speed_kmh = reading.speed_kmh
        silence = device.silence
        if silence is None or not silence.open:
            return []
        silence.open = False
        silence.revision += 1
        return [
            _silence_event(
                self.shipment_id,
                device,
                self.limits,
                "closed",
                first_arrival,
                first_arrival,
                silence.revision,
            )
        ]

    def _fresh_samples(self, batch: list[ReadingLike], times: list[float]) -> list[Sample]:
        """The batch's new readings, sorted by time, first of each duplicate kept."""
        if len(batch) == 1:
            return [(times[0], batch[0].temp_c, batch[0].humidity_pct)]
        unique: dict[float, Sample] = {}
        for reading, t in zip(batch, times, strict=True):
            if t not in unique:
                unique[t] = (t, reading.temp_c, reading.humidity_pct)
        return sorted(unique.values(), key=_SAMPLE_TIME)

    # -- scoring -----------------------------------------------------------------------------

    def _score(self, sample: Sample) -> None:
        """Feeds one sample, later than all scored so far, to every rule."""
        device = self.device
        run = device.run
        t = sample[0]
        run.last_t = t
        temp = sample[1]
        if temp is not None:
            run.mkt.add(t, temp)
        episodes = run.episodes
        for index, rule in enumerate(self.rules):
            value = sample[rule.field]
            if value is None:
                continue
            before = episodes[index]
            if before is None and rule.sign * (value - rule.limit) <= 0:
                continue  # step()'s first case inline: nothing open, still inside (most samples)
            after, change = step(before, rule, t, value)
            episodes[index] = after
            if change:
                self._note_change(change, rule, before, after)
        filling = device.segments[-1].body.samples
        filling.append(sample)
        if len(filling) >= self.config.checkpoint_every:
            device.segments.append(Segment(t, SegmentBody(run.copy(), [])))

    def _note_change(self, change: int, rule: Rule, before: Episode | None, after: Episode | None) -> None:
        if change == OPENED and after is not None:
            after.id = excursion_id(self.shipment_id, self.device.device_id, rule.kind, _dt(after.started_at))
            self.touched.add(after.id)
        elif change == CLOSED and before is not None and before.id is not None:
            self.device.closed[before.id] = _closed(rule, before)
            self.touched.add(before.id)
        elif change == PEAK_MOVED and after is not None and after.id is not None:
            if self._peak_worth_telling(rule, after):
                self.touched.add(after.id)
        elif after is not None and after.id is not None:  # escalated
            self.touched.add(after.id)

    def _peak_worth_telling(self, rule: Rule, episode: Episode) -> bool:
        published = self.device.published.get(episode.id or "")
        if published is None or published.peak is None:
            return True
        threshold = self.config.peak_step_pct if rule.field == 2 else self.config.peak_step_c
        return abs(episode.peak - published.peak) >= threshold

    def _rescore(self, fresh: list[Sample]) -> list[ExcursionEvent]:
        """Merges late samples and re-scores from the checkpoint before the earliest.

        Only the segments from that checkpoint on are read (and loaded, when stored
        elsewhere); they are replaced by new ones, never edited in place.
        """
        device = self.device
        segments = device.segments
        base_t = segments[0].t
        index = max(bisect_left(segments, fresh[0][0], key=_SEGMENT_TIME) - 1, 0)
        known = {s[0] for segment in segments[index:] for s in segment.body.samples}
        late = [s for s in fresh if s[0] not in known]
        kept = [s for s in late if s[0] > base_t]
        device.too_late += len(late) - len(kept)
        if not kept:
            return []
        index = bisect_left(segments, kept[0][0], key=_SEGMENT_TIME) - 1
        resume = segments[index]
        merged = sorted([s for segment in segments[index:] for s in segment.body.samples] + kept, key=_SAMPLE_TIME)
        del segments[index:]
        segments.append(Segment(resume.t, SegmentBody(resume.body.run, [])))
        affected = {
            excursion
            for excursion, seen in device.published.items()
            if not seen.retracted and (seen.confirmed_at is None or seen.confirmed_at > resume.t)
        }
        for excursion in [x for x, c in device.closed.items() if c.confirmed_at > resume.t]:
            del device.closed[excursion]
        device.run = resume.body.run.copy()
        for sample in merged:
            self._score(sample)
        open_now = {e.id for e in device.run.episodes if e is not None and e.id is not None}
        return self._diff(affected | self.touched | open_now, found_late=True)

    def _compact(self) -> None:
        """Folds history older than the horizon into the base checkpoint (bounded state)."""
        device = self.device
        segments = device.segments
        oldest_kept = device.run.last_t - self.config.horizon_h * 3600
        drop = 0
        while drop + 1 < len(segments) and segments[drop + 1].t <= oldest_kept:
            drop += 1
        if not drop:
            return
        del segments[:drop]
        base_t = segments[0].t
        for excursion in [x for x, c in device.closed.items() if c.confirmed_at <= base_t]:
            del device.closed[excursion]
        for excursion, seen in list(device.published.items()):
            settled = seen.confirmed_at is not None and seen.confirmed_at <= base_t
            if settled or (seen.retracted and seen.started_at <= base_t):
                del device.published[excursion]

    # -- what to tell consumers ---------------------------------------------------------------

    def _diff(self, ids: set[str], found_late: bool) -> list[ExcursionEvent]:
        if not ids:
            return []
        views = _views(self.device, self.rules)
        events = []
        for excursion in ids:
            event = self._tell(excursion, views, found_late)
            if event is not None:
                events.append(event)
        self.touched = set()
        # Retractions first: a consumer then learns that an excursion was replaced before it
        # hears of its successor (which, by event time, may sort before the retraction), and
        # can hand what it told about the one to the other.
        return sorted(events, key=lambda e: (e.step != "retracted", e.event_time, e.id))

    def _tell(self, excursion: str, views: dict[str, _View], found_late: bool) -> ExcursionEvent | None:
        device = self.device
        seen = device.published.get(excursion)
        view = views.get(excursion)
        if view is None:
            if seen is None or seen.retracted:
                return None
            return self._retract(excursion, seen, views, found_late)
        step_name, event_time = _step_for(view, seen, device.run.last_t)
        if step_name is None:
            return None
        revision = (seen.revision if seen else 0) + 1
        device.published[excursion] = Published(
            view.kind,
            self.limits.profile,
            view.severity,
            view.started_at,
            view.ended_at,
            view.peak,
            view.amount,
            revision,
            view.confirmed_at,
        )
        record = _record(self.shipment_id, device.device_id, view, self.limits.profile, revision)
        return ExcursionEvent(
            **record.model_dump(),
            step=step_name,
            event_time=_dt(event_time),
            limits=self.limits,
            found_late=found_late,
            received_at=self.arrived,
        )

    def _retract(self, excursion: str, seen: Published, views: dict[str, _View], found_late: bool) -> ExcursionEvent:
        seen.retracted = True
        seen.revision += 1
        end = seen.ended_at if seen.ended_at is not None else math.inf
        successor = next(
            (
                v.id
                for v in sorted(views.values(), key=attrgetter("started_at"))
                if v.kind == seen.kind and v.started_at <= end and (v.ended_at is None or v.ended_at >= seen.started_at)
            ),
            None,
        )
        view = _View(
            excursion,
            seen.kind,
            seen.severity,
            seen.started_at,
            seen.ended_at,
            seen.peak or 0.0,
            seen.amount or 0.0,
            seen.started_at,
            None,
            seen.confirmed_at,
        )
        record = _record(self.shipment_id, self.device.device_id, view, seen.profile, seen.revision)
        return ExcursionEvent(
            **record.model_dump(),
            step="retracted",
            event_time=_dt(self.device.run.last_t),
            limits=self.limits,
            found_late=found_late,
            received_at=self.arrived,
            superseded_by=successor,
        )


def _step_for(view: _View, seen: Published | None, last_t: float) -> tuple[str | None, float]:
    """Which step turns what consumers saw into ``view``, and its event time."""
    closed = view.ended_at is not None
    if seen is None or seen.retracted:
        return ("closed", view.confirmed_at or last_t) if closed else ("opened", view.opened_at)
    was_closed = seen.confirmed_at is not None
    if closed and not was_closed:
        return "closed", view.confirmed_at or last_t
    if was_closed and not closed:
        return "reopened", last_t
    if not closed and _SEVERITY_RANK[view.severity] > _SEVERITY_RANK[seen.severity]:
        return "escalated", view.escalated_at or last_t
    unchanged = (
        view.severity == seen.severity
        and view.ended_at == seen.ended_at
        and view.peak == seen.peak
        and view.amount == seen.amount
    )
    return (None, last_t) if unchanged else ("updated", last_t)


def _views(device: DeviceState, rules: tuple[Rule, ...]) -> dict[str, _View]:
    views: dict[str, _View] = {}
    for closed in device.closed.values():
        views[closed.id] = _View(
            closed.id,
            closed.kind,
            _SEVERITY[closed.severity],
            closed.started_at,
            closed.ended_at,
            closed.peak,
            round(closed.area / 60, 3),
            closed.opened_at,
            None,
            closed.confirmed_at,
        )
    for rule, episode in zip(rules, device.run.episodes, strict=True):
        if episode is None or episode.id is None:
            continue
        views[episode.id] = _View(
            episode.id,
            rule.kind,
            _SEVERITY[episode.severity],
            episode.started_at,
            None,
            episode.peak,
            round(episode.area / 60, 3),
            episode.opened_at or episode.started_at,
            episode.escalated_at,
            None,
        )
    return views


def _closed(rule: Rule, episode: Episode) -> ClosedExcursion:
    assert episode.id is not None and episode.back_in_since is not None
    return ClosedExcursion(
        id=episode.id,
        kind=rule.kind,
        severity=episode.severity,
        started_at=episode.started_at,
        ended_at=episode.back_in_since,
        confirmed_at=episode.last_t,
        peak=episode.peak,
        area=episode.area,
        opened_at=episode.opened_at or episode.started_at,
    )


def _record(shipment_id: str, device_id: str, view: _View, profile: str, revision: int) -> Excursion:
    humidity = view.kind == "humidity_low"
    duration = None if view.ended_at is None else round((view.ended_at - view.started_at) / 60, 3)
    return Excursion(
        id=view.id,
        shipment_id=shipment_id,
        device_id=device_id,
        kind=view.kind,  # type: ignore[arg-type]
        severity=view.severity,  # type: ignore[arg-type]
        started_at=_dt(view.started_at),
        ended_at=_dt(view.ended_at) if view.ended_at is not None else None,
        peak_c=None if humidity else view.peak,
        degree_minutes=None if humidity else view.amount,
        peak_humidity_pct=view.peak if humidity else None,
        humidity_pct_minutes=view.amount if humidity else None,
        duration_min=duration,
        profile=profile,
        revision=revision,
    )


def _silence_event(
    shipment_id: str,
    device: DeviceState,
    limits: ExcursionLimits,
    step_name: str,
    ended_at: float | None,
    event_time: float,
    revision: int,
) -> ExcursionEvent:
    assert device.silence is not None
    duration = None if ended_at is None else round((ended_at - device.silence.started_at) / 60, 3)
    return ExcursionEvent(
        id=device.silence.id,
        shipment_id=shipment_id,
        device_id=device.device_id,
        kind="sensor_silent",
        severity="warning",
        step=step_name,  # type: ignore[arg-type]
        started_at=_dt(device.silence.started_at),
        ended_at=_dt(ended_at) if ended_at is not None else None,
        duration_min=duration,
        profile=limits.profile,
        revision=revision,
        event_time=_dt(event_time),
        limits=limits,
    )


def _with_mkt(state: ShipmentState, events: list[ExcursionEvent]) -> list[ExcursionEvent]:
    if not events:
        return events
    mkt = shipment_mkt_c(state)
    rounded = None if mkt is None else round(mkt, 3)
    return [event.model_copy(update={"shipment_mkt_c": rounded}) for event in events]


def _dt(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)
