"""One threshold rule followed over one device's readings, in event-time order.

An *episode* starts at the first reading outside the nominal limit. It becomes an
excursion (warning) once it has stayed outside for the nominal delay, or (critical) once
it has stayed beyond the critical limit for the critical delay, whichever comes first; a
warning escalates to critical the same way. Before that, a return inside the range
drops the episode: a short blip is nothing.

Hysteresis: once outside, a reading counts as back inside only when it is at least
``hysteresis`` inside the limit, so a value flapping around the limit stays one
episode; the same latch applies to the critical limit. An open excursion closes when
the readings have stayed back inside for ``close_after_s``; it ends at the first of
those readings (``back_in_since``). Going outside again before that continues the
same excursion.

Times are float epoch seconds here (speed: this runs once per reading). The area
beyond the nominal limit is integrated with the trapezoid rule over consecutive
readings of the episode, on the excess clipped at zero; it is in value-seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

NOTHING = 0
OPENED = 1
ESCALATED = 2
CLOSED = 3
PEAK_MOVED = 4  # an open excursion's peak changed

PENDING = 0
WARNING = 1
CRITICAL = 2


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str  # "temp_high", "temp_low", "humidity_low"
    field: int  # index of the value in a sample tuple (time, temp_c, humidity_pct)
    sign: float  # +1: outside means above the limit; -1: below
    limit: float
    delay_s: float
    critical_limit: float | None  # None: this kind never becomes critical
    critical_delay_s: float
    hysteresis: float
    close_after_s: float


@dataclass(slots=True)
class Episode:
    """A run of readings outside the limit: pending, or an open excursion."""

    started_at: float
    peak: float
    last_t: float
    last_excess: float  # excess of the previous reading, clipped at zero, for the trapezoid
    area: float = 0.0  # value-seconds beyond the nominal limit
    severity: int = PENDING
    id: str | None = None  # set when it becomes an excursion
    opened_at: float | None = None
    escalated_at: float | None = None
    back_in_since: float | None = None  # first reading of the current in-range run
    critical_since: float | None = None  # first reading of the current critical run

    def copy(self) -> Episode:
        return Episode(
            self.started_at,
            self.peak,
            self.last_t,
            self.last_excess,
            self.area,
            self.severity,
            self.id,
            self.opened_at,
            self.escalated_at,
            self.back_in_since,
            self.critical_since,
        )


def step(episode: Episode | None, rule: Rule, t: float, value: float) -> tuple[Episode | None, int]:
    """Feed one reading (time ``t``, later than any before) to the rule's episode.

    Returns the episode afterwards (None when there is none) and what happened. On
    CLOSED the returned episode is None; the caller still holds the closed one.
    """
    excess = rule.sign * (value - rule.limit)
    if episode is None:
        if excess <= 0:
            return None, NOTHING
        episode = Episode(started_at=t, peak=value, last_t=t, last_excess=excess)
        return episode, _judge_outside(episode, rule, t, value)

    clipped = excess if excess > 0 else 0.0
    episode.area += (episode.last_excess + clipped) * 0.5 * (t - episode.last_t)
    episode.last_t = t
    episode.last_excess = clipped
    latched_out = episode.back_in_since is None
    outside = excess > -rule.hysteresis if latched_out else excess > 0
    if outside:
        episode.back_in_since = None
        peak_moved = rule.sign * (value - episode.peak) > 0
        if peak_moved:
            episode.peak = value
        change = _judge_outside(episode, rule, t, value)
        if change == NOTHING and peak_moved and episode.severity != PENDING:
            return episode, PEAK_MOVED
        return episode, change

    episode.critical_since = None
    if episode.severity == PENDING:
        return None, NOTHING
    if latched_out:
        episode.back_in_since = t
    if t - episode.back_in_since >= rule.close_after_s:  # type: ignore[operator]
        return None, CLOSED
    return episode, NOTHING


def _judge_outside(episode: Episode, rule: Rule, t: float, value: float) -> int:
    """Opens or escalates an episode whose latest reading is outside."""
    critical = False
    if rule.critical_limit is not None:
        critical_excess = rule.sign * (value - rule.critical_limit)
        held = episode.critical_since is not None
        if critical_excess > (-rule.hysteresis if held else 0.0):
            if episode.critical_since is None:
                episode.critical_since = t
            critical = t - episode.critical_since >= rule.critical_delay_s
        else:
            episode.critical_since = None
    if episode.severity == PENDING:
        if critical or t - episode.started_at >= rule.delay_s:
            episode.severity = CRITICAL if critical else WARNING
            episode.opened_at = t
            if critical:
                episode.escalated_at = t
            return OPENED
        return NOTHING
    if critical and episode.severity == WARNING:
        episode.severity = CRITICAL
        episode.escalated_at = t
        return ESCALATED
    return NOTHING
