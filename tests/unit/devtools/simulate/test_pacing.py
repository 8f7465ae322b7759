from datetime import UTC, datetime, timedelta

import pytest
from devtools.simulate.fleet import fleet_span, plan_fleet
from devtools.simulate.pacing import Pace, choose_speed, live_start, merged_actions
from devtools.simulate.replay import ReplayStats, replay
from devtools.simulate.tracker import PublishAction

START = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)


class FakeClock:
    """Real seconds that pass only when the replay sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.received: list[tuple[float, PublishAction]] = []

    def publish(self, action: PublishAction) -> None:
        self.received.append((self.clock(), action))


def test_a_pace_maps_simulated_time_to_real_seconds_and_back() -> None:
    pace = Pace(START, speed=2400)
    assert pace.wall_offset_s(START + timedelta(hours=40)) == pytest.approx(60.0)
    assert pace.sim_time(60.0) == START + timedelta(hours=40)
    assert pace.wall_offset_s(START - timedelta(hours=1)) == 0.0
    with pytest.raises(ValueError):
        Pace(START, speed=0)


def test_speed_comes_from_a_duration_or_is_given() -> None:
    assert choose_speed(timedelta(hours=40), None, 60) == pytest.approx(2400)
    assert choose_speed(timedelta(hours=40), 10, None) == 10
    assert choose_speed(timedelta(hours=40), None, None) == 1.0  # real time
    with pytest.raises(ValueError):
        choose_speed(timedelta(hours=40), 10, 60)


def test_the_live_start_ends_the_replay_at_the_present() -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    span = timedelta(hours=48)
    for speed in (1.0, 60.0, 2880.0):
        start = live_start(now, span, speed)
        pace = Pace(start, speed)
        real_end = now + timedelta(seconds=pace.wall_offset_s(start + span))
        assert start + span == real_end  # simulated time meets real time at the end
        assert start + span <= now + span / speed  # never ahead of the real clock


def test_replay_publishes_everything_in_order_on_the_accelerated_clock() -> None:
    fleet = plan_fleet(6, 3, ["normal", "tarmac-delay"], START)
    _, end = fleet_span(fleet)
    pace = Pace(START, speed=3600)  # an hour a second
    clock = FakeClock()
    sink = Recorder(clock)
    ticks: list[datetime] = []

    def on_tick(stats: ReplayStats) -> None:
        assert stats.sim_now is not None
        ticks.append(stats.sim_now)

    stats = replay(merged_actions(fleet), pace, sink, on_tick, clock=clock, sleep=clock.sleep)
    expected = list(merged_actions(fleet))
    assert [a for _, a in sink.received] == expected
    assert stats.published == len(expected)
    assert stats.by_kind["backlog"] == sum(a.kind == "backlog" for a in expected)
    for real, action in sink.received:  # never early, and on time to within a tick
        due = 100.0 + pace.wall_offset_s(action.sim_time)
        assert due <= real + 1e-6 and real - due < 0.3
    assert ticks == sorted(ticks) and ticks[-1] <= end
    assert clock.now - 100.0 == pytest.approx(pace.wall_offset_s(expected[-1].sim_time), abs=0.3)
