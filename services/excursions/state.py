"""The excursion processor's state per shipment: plain dataclasses, JSON via pydantic.

Per device it keeps:

- ``samples``: the readings since the base checkpoint, sorted by device time, as
  ``(epoch seconds, temp_c, humidity_pct)`` tuples; a reading's time is its identity,
  so a duplicate ``(device_id, time)`` is recognised and counted once;
- ``checkpoints``: the scoring state (``Run``) after every ``checkpoint_every``
  readings; a late reading is merged into ``samples`` and scoring resumes from the
  last checkpoint before it, never from the beginning of time;
- ``closed``: excursions closed since the base checkpoint (late data may still change
  them) and ``published``: what consumers were last told about each excursion, so the
  processor emits only differences.

State size is bounded: readings older than ``horizon_h`` (device time, behind the
device's newest reading) are folded into the base checkpoint and dropped with the
checkpoints before it, with the excursions that closed before it (already
published, and settled). A reading older than the base is counted in ``too_late``
and ignored (it still reaches the database through the readings sink).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import TypeAdapter

from services.excursions.mkt import MktAccumulator
from services.excursions.tracker import Episode

Sample = tuple[float, float | None, float | None]  # (epoch seconds, temp_c, humidity_pct)

BEGINNING = -1e18  # before any reading: the time of the first base checkpoint


@dataclass(slots=True)
class Run:
    """The scoring state after some prefix of a device's readings."""

    episodes: list[Episode | None]  # one per rule, in rules order
    mkt: MktAccumulator = field(default_factory=MktAccumulator)
    last_t: float = BEGINNING

    def copy(self) -> Run:
        return Run(
            [e.copy() if e is not None else None for e in self.episodes],
            self.mkt.copy(),
            self.last_t,
        )


@dataclass(slots=True)
class Checkpoint:
    t: float  # the run includes every reading with time <= t
    run: Run


@dataclass(slots=True)
class ClosedExcursion:
    id: str
    kind: str
    severity: int
    started_at: float
    ended_at: float
    confirmed_at: float  # time of the reading that closed it
    peak: float
    area: float  # value-seconds beyond the limit
    opened_at: float


@dataclass(slots=True)
class Published:
    """What consumers were last told about one excursion."""

    kind: str
    profile: str
    severity: str
    started_at: float
    ended_at: float | None
    peak: float | None
    amount: float | None  # degree-minutes or %RH-minutes, rounded
    revision: int
    confirmed_at: float | None = None  # set once closed
    retracted: bool = False


@dataclass(slots=True)
class Silence:
    """The device's latest silence; kept after it ends so a recurrence keeps its revision."""

    id: str
    started_at: float  # device time of the newest reading when it went quiet
    revision: int
    open: bool = True


@dataclass(slots=True)
class DeviceState:
    device_id: str
    samples: list[Sample]
    checkpoints: list[Checkpoint]
    run: Run
    since_checkpoint: int = 0
    closed: dict[str, ClosedExcursion] = field(default_factory=dict)
    published: dict[str, Published] = field(default_factory=dict)
    last_received_at: float | None = None  # arrival clock (Reading.received_at)
    last_position: tuple[float, float, float] | None = None  # (t, lat, lon), newest by time
    last_speed_kmh: float | None = None
    silence: Silence | None = None
    too_late: int = 0


@dataclass(slots=True)
class ShipmentState:
    shipment_id: str
    devices: dict[str, DeviceState] = field(default_factory=dict)


_ADAPTER = TypeAdapter(ShipmentState)


def dump_state(state: ShipmentState) -> bytes:
    return _ADAPTER.dump_json(state)


def load_state(data: bytes | str) -> ShipmentState:
    return _ADAPTER.validate_json(data)
