"""The speed window kept by bisection equals the window rebuilt from every fix (its definition)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.eta.tracking import Fix, _entry, _fix, _window

T0 = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)


def rebuilt(fixes: tuple[Fix, ...], fix: Fix, newest: datetime, window_min: float) -> tuple[Fix, ...]:
    """The window by its definition: the earliest fix of each minute since ``newest - window``."""
    oldest = newest - timedelta(minutes=window_min)
    by_minute: dict[int, Fix] = {}
    for candidate in (*fixes, fix):
        if candidate.time < oldest:
            continue
        minute = int(candidate.time.timestamp() // 60)
        kept = by_minute.get(minute)
        if kept is None or (candidate.time, candidate.lat, candidate.lon) < (kept.time, kept.lat, kept.lon):
            by_minute[minute] = candidate
    return tuple(sorted(by_minute.values(), key=lambda f: f.time))


_fixes = st.builds(Fix, time=st.integers(0, 240).map(lambda s: T0 + timedelta(seconds=s * 15)),
                   lat=st.sampled_from([1.0, 2.0]), lon=st.sampled_from([1.0, 2.0]))


@given(st.lists(_fixes, min_size=1, max_size=60), st.sampled_from([5.0, 10.0, 30.0]))
def test_folding_fixes_one_by_one_keeps_the_defined_window(arriving: list[Fix], window_min: float) -> None:
    fast: list = []  # the fold's working window: entries, kept in place
    slow: tuple[Fix, ...] = ()
    newest = arriving[0].time
    for fix in arriving:
        newest = max(newest, fix.time)
        _window(fast, _entry(fix), (newest - timedelta(minutes=window_min)).timestamp())
        slow = rebuilt(slow, fix, newest, window_min)
        assert tuple(_fix(entry) for entry in fast) == slow
