"""Mapping simulated time onto real time: speed, the live start, and the merged timeline."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devtools.simulate.fleet import SimShipment
    from devtools.simulate.tracker import PublishAction


@dataclass(frozen=True)
class Pace:
    """``speed`` simulated seconds pass per real second, from ``sim_start``."""

    sim_start: datetime
    speed: float

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")

    def wall_offset_s(self, sim_time: datetime) -> float:
        """Real seconds after the replay began at which ``sim_time`` is due."""
        return max(0.0, (sim_time - self.sim_start).total_seconds() / self.speed)

    def sim_time(self, wall_offset_s: float) -> datetime:
        return self.sim_start + timedelta(seconds=wall_offset_s * self.speed)


def choose_speed(span: timedelta, speed: float | None, duration_s: float | None) -> float:
    """Simulated seconds per real second: given, or whatever fits the span in ``duration_s``."""
    if speed is not None and duration_s is not None:
        raise ValueError("give a speed or a duration, not both")
    if duration_s is not None:
        if duration_s <= 0:
            raise ValueError("duration must be positive")
        return max(1.0, span.total_seconds() / duration_s)
    return 1.0 if speed is None else speed


def live_start(now: datetime, span: timedelta, speed: float) -> datetime:
    """The start that keeps every sample in the past and ends the replay at "now".

    Replayed at ``speed``, the fleet takes ``span / speed`` real seconds. Starting the
    simulated clock ``span - span / speed`` before now makes simulated time catch up with
    the real clock exactly as the replay ends: the pipeline never sees a future
    timestamp, and the newest data is live. At speed 1 this is simply now.
    """
    return now - span + span / speed


def merged_actions(shipments: Sequence[SimShipment]) -> Iterator[PublishAction]:
    """Every publication of the fleet in publish order (lazily, shipment streams merged)."""
    return heapq.merge(*(s.actions() for s in shipments), key=lambda action: action.sim_time)
