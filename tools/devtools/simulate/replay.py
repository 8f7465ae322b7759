"""Plays the fleet's publications in (accelerated) real time into any ``ActionSink``.

The sink is the MQTT publisher in production; the loop itself knows nothing of MQTT.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from devtools.simulate.pacing import Pace
from devtools.simulate.tracker import PublishAction


class ActionSink(Protocol):
    def publish(self, action: PublishAction) -> None: ...


@dataclass
class ReplayStats:
    published: int = 0
    samples: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    sim_now: datetime | None = None

    def count(self, action: PublishAction) -> None:
        self.published += 1
        self.samples += action.samples
        self.by_kind[action.kind] = self.by_kind.get(action.kind, 0) + 1


def replay(
    actions: Iterable[PublishAction],
    pace: Pace,
    sink: ActionSink,
    on_tick: Callable[[ReplayStats], None] = lambda stats: None,
    tick_s: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayStats:
    """Publish each action when its simulated time comes; ``on_tick`` at least every
    ``tick_s`` real seconds (for progress), with the simulated clock in ``stats.sim_now``."""
    stats = ReplayStats(sim_now=pace.sim_start)
    began = clock()
    last_tick = began
    for action in actions:
        due = began + pace.wall_offset_s(action.sim_time)
        while (now := clock()) < due:
            sleep(min(due - now, tick_s))
            stats.sim_now = pace.sim_time(clock() - began)
            on_tick(stats)
            last_tick = clock()
        sink.publish(action)
        stats.count(action)
        if clock() - last_tick >= tick_s:
            stats.sim_now = max(action.sim_time, pace.sim_time(clock() - began))
            on_tick(stats)
            last_tick = clock()
    on_tick(stats)
    return stats
