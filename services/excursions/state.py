"""The excursion processor's state per shipment: plain dataclasses (``storage`` encodes them).

Per device it keeps:

- ``segments``: the history since the base checkpoint, cut every ``checkpoint_every``
  readings. A segment holds a checkpoint (the scoring state, ``Run``, over every
  reading up to its time) and the readings after it up to the next segment's
  checkpoint, sorted by device time, as ``(epoch seconds, temp_c, humidity_pct)``
  tuples. A reading's time is its identity, so a duplicate ``(device_id, time)`` is
  recognised and counted once. A late reading is merged into its segment and scoring
  resumes from that segment's checkpoint, never from the beginning of time;
- ``closed``: excursions closed since the base checkpoint (late data may still change
  them) and ``published``: what consumers were last told about each excursion, so the
  processor emits only differences.

State size is bounded: readings older than ``horizon_h`` (device time, behind the
device's newest reading) are folded into the base checkpoint and dropped with the
segments before it, with the excursions that closed before it (already
published, and settled). A reading older than the base is counted in ``too_late``
and ignored (it still reaches the database through the readings sink).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field

from services.excursions.episodes import Episode
from services.excursions.mkt import MktAccumulator

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
class SegmentBody:
    run: Run  # the scoring state over every reading up to the segment's time
    samples: list[Sample]  # the readings after it, up to the next segment's time, sorted


class Segment:
    """A checkpoint and the readings after it; its body may be loaded only when needed.

    Scoring appends to a device's last segment only. Every other segment is sealed and
    never edited in place: re-scoring replaces it with a new object. So ``stored_as``,
    the storage slot a persistence layer wrote this object to (None until it does),
    stays true for as long as the object lives, and the body of a stored segment can be
    dropped from memory and read back from its slot when late data needs it.
    """

    __slots__ = ("t", "stored_as", "_body", "_load")

    def __init__(
        self,
        t: float,
        body: SegmentBody | None = None,
        stored_as: int | None = None,
        load: Callable[[], SegmentBody] | None = None,
    ) -> None:
        if body is None and load is None:
            raise ValueError("a segment needs a body or a way to load it")
        self.t = t  # the checkpoint's time: its run includes every reading with time <= t
        self.stored_as = stored_as
        self._body = body
        self._load = load

    @property
    def body(self) -> SegmentBody:
        if self._body is None:
            assert self._load is not None
            self._body = self._load()
        return self._body

    @property
    def loaded(self) -> bool:
        return self._body is not None

    def unload(self, load: Callable[[], SegmentBody]) -> None:
        """Drops the body from memory; ``load`` reads it back from where it was stored."""
        self._body, self._load = None, load


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
    segments: list[Segment]  # never empty: the first is the base, the last is being filled
    run: Run
    closed: dict[str, ClosedExcursion] = field(default_factory=dict)
    published: dict[str, Published] = field(default_factory=dict)
    last_received_at: float | None = None  # arrival clock (Reading.received_at)
    last_position: tuple[float, float, float] | None = None  # (t, lat, lon), newest by time
    last_speed_kmh: float | None = None
    silence: Silence | None = None
    too_late: int = 0

    @property
    def samples(self) -> list[Sample]:
        """Every reading held, in time order (loads every segment: for tests and tools)."""
        return [sample for segment in self.segments for sample in segment.body.samples]


class Devices(MutableMapping[str, DeviceState]):
    """A shipment's devices by id, in the order they were first seen; each one read through
    ``load`` only when used.

    A landed backlog's step touches a few of a shipment's hundred trackers: holding and
    writing the shipment's whole state for each step made its cost grow with the shipment.
    """

    __slots__ = ("_order", "_loaded", "_load")

    def __init__(self, ids: Iterable[str] = (), load: Callable[[str], DeviceState] | None = None) -> None:
        self._order: dict[str, None] = dict.fromkeys(ids)
        self._loaded: dict[str, DeviceState] = {}
        self._load = load

    def __getitem__(self, device_id: str) -> DeviceState:
        device = self._loaded.get(device_id)
        if device is not None:
            return device
        if device_id not in self._order or self._load is None:
            raise KeyError(device_id)
        device = self._loaded[device_id] = self._load(device_id)
        return device

    def __setitem__(self, device_id: str, device: DeviceState) -> None:
        self._order.setdefault(device_id)
        self._loaded[device_id] = device

    def __delitem__(self, device_id: str) -> None:
        del self._order[device_id]
        self._loaded.pop(device_id, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def loaded(self) -> dict[str, DeviceState]:
        """The devices read (or added) so far, in their order: the only ones a step can have changed."""
        return {device_id: self._loaded[device_id] for device_id in self._order if device_id in self._loaded}


@dataclass(slots=True)
class ShipmentState:
    shipment_id: str
    devices: Devices = field(default_factory=Devices)


def new_device(device_id: str) -> DeviceState:
    """A device with no readings yet: nothing open, the base checkpoint before any reading."""
    run = Run(episodes=[None, None, None])
    return DeviceState(device_id=device_id, segments=[Segment(BEGINNING, SegmentBody(run.copy(), []))], run=run)
