"""How a shipment's excursion state is laid out in a key-value table (no faust in it).

Writing the whole state on every reading made each reading cost its device's whole
history (up to ``horizon_h`` of samples) in serialisation and changelog bytes. So the
state is split over keys of one table:

- the **header**, under the shipment id: everything but the sealed segments' bodies,
  that is the runs, the excursions, the segment being filled (at most
  ``checkpoint_every`` samples) and, per sealed segment, its checkpoint time and slot;
- each **sealed segment**, under ``{shipment id}/{slot}``: its checkpoint and samples,
  packed as doubles. A slot is written once and never rewritten with other content:
  re-scoring writes the new segment to a new slot (copy on write).

An in-order reading rewrites the header only; one reading in ``checkpoint_every`` also
writes the segment it seals. A late reading rewrites the segments from its checkpoint on.

Crash safety, with every write of one step going to the same changelog partition in
order: new slots first, then the header that points at them, then deletion of the
slots it no longer uses. A crash before the header leaves the old header pointing at
old, untouched slots; the reading is processed again from the same state and writes the
same slots with the same content. A crash after the header but before the deletions
leaves slots that the header lists in ``garbage``; the next step deletes them again.

A value written by the previous layout (the whole state as one JSON document) is read
and rewritten in this layout on the shipment's next step.
"""

from __future__ import annotations

import json
import math
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from services.excursions.state import (
    ClosedExcursion,
    DeviceState,
    Published,
    Run,
    Sample,
    Segment,
    SegmentBody,
    ShipmentState,
    Silence,
)

SEPARATOR = "/"  # never in a shipment id (schemas.common.DEVICE_ID_PATTERN)
HEADER_FORMAT = 2
_HEADER_PREFIX = b'{"format":2,'
_SEGMENT_MAGIC = b"XS1"

ReadValue = Callable[[str], bytes | None]


class MissingSegment(LookupError):
    """A header points at a slot that holds nothing: that part of the history is lost."""


@dataclass(slots=True)
class StoredState:
    """The core's state plus what the layout needs to write it back."""

    partition: int  # the source partition the shipment's readings come from
    state: ShipmentState
    next_slot: int = 0
    slots: set[int] = field(default_factory=set)  # the slots the stored header refers to
    garbage: list[int] = field(default_factory=list)  # slots to delete (again) on the next write


@dataclass(frozen=True, slots=True)
class Writes:
    """Table operations, in the order they must be applied."""

    puts: list[tuple[str, bytes]]  # segments, then the header last
    deletes: list[str]


@dataclass(slots=True)
class _StoredDevice:
    run: Run
    sealed: list[tuple[float, int]]  # (checkpoint time, slot) of every segment but the last
    tail_t: float
    tail: SegmentBody
    closed: dict[str, ClosedExcursion]
    published: dict[str, Published]
    last_received_at: float | None
    last_position: tuple[float, float, float] | None
    last_speed_kmh: float | None
    silence: Silence | None
    too_late: int


@dataclass(slots=True)
class _Header:
    format: int  # first field: the dump starts with _HEADER_PREFIX
    partition: int
    shipment_id: str
    next_slot: int
    garbage: list[int]
    devices: dict[str, _StoredDevice]


_HEADER = TypeAdapter(_Header)
_RUN = TypeAdapter(Run)
_CLOSED = TypeAdapter(dict[str, ClosedExcursion])
_PUBLISHED = TypeAdapter(dict[str, Published])
_SILENCE = TypeAdapter(Silence | None)


def segment_key(shipment_id: str, slot: int) -> str:
    return f"{shipment_id}{SEPARATOR}{slot}"


def is_header_key(key: str) -> bool:
    return SEPARATOR not in key


def write(stored: StoredState, read: ReadValue) -> Writes:
    """Assigns slots to new sealed segments and encodes what changed.

    The segments written are unloaded from memory (read back through ``read`` when late
    data needs them), so a state kept between steps holds headers and open segments only.
    """
    shipment_id = stored.state.shipment_id
    puts: list[tuple[str, bytes]] = []
    live: set[int] = set()
    for device in stored.state.devices.values():
        for segment in device.segments[:-1]:
            if segment.stored_as is None:
                segment.stored_as = stored.next_slot
                stored.next_slot += 1
                key = segment_key(shipment_id, segment.stored_as)
                puts.append((key, encode_segment(segment.body)))
            if segment.loaded:
                segment.unload(_loader(read, segment_key(shipment_id, segment.stored_as)))
            live.add(segment.stored_as)
    dropped = stored.slots - live
    deletes = sorted(dropped | set(stored.garbage))
    stored.slots, stored.garbage = live, sorted(dropped)
    puts.append((shipment_id, encode_header(stored)))
    return Writes(puts, [segment_key(shipment_id, slot) for slot in deletes])


def keys_of(stored: StoredState) -> list[str]:
    """Every key the shipment's state occupies (to delete it all)."""
    shipment_id = stored.state.shipment_id
    slots = sorted(stored.slots | set(stored.garbage))
    return [shipment_id, *(segment_key(shipment_id, slot) for slot in slots)]


def read_state(raw: bytes, read: ReadValue) -> StoredState:
    """Decodes a header; the sealed segments load lazily through ``read``."""
    if not raw.startswith(_HEADER_PREFIX):
        return _read_previous_layout(raw)
    header = _HEADER.validate_json(raw)
    state = ShipmentState(header.shipment_id)
    slots: set[int] = set()
    for device_id, stored in header.devices.items():
        segments = [
            Segment(t, stored_as=slot, load=_loader(read, segment_key(header.shipment_id, slot)))
            for t, slot in stored.sealed
        ]
        slots.update(slot for _, slot in stored.sealed)
        segments.append(Segment(stored.tail_t, stored.tail))
        state.devices[device_id] = DeviceState(
            device_id=device_id,
            segments=segments,
            run=stored.run,
            closed=stored.closed,
            published=stored.published,
            last_received_at=stored.last_received_at,
            last_position=stored.last_position,
            last_speed_kmh=stored.last_speed_kmh,
            silence=stored.silence,
            too_late=stored.too_late,
        )
    return StoredState(header.partition, state, header.next_slot, slots, header.garbage)


def encode_header(stored: StoredState) -> bytes:
    devices = {}
    for device_id, device in stored.state.devices.items():
        tail = device.segments[-1]
        devices[device_id] = _StoredDevice(
            run=device.run,
            sealed=[(segment.t, _slot(segment)) for segment in device.segments[:-1]],
            tail_t=tail.t,
            tail=tail.body,
            closed=device.closed,
            published=device.published,
            last_received_at=device.last_received_at,
            last_position=device.last_position,
            last_speed_kmh=device.last_speed_kmh,
            silence=device.silence,
            too_late=device.too_late,
        )
    header = _Header(
        HEADER_FORMAT, stored.partition, stored.state.shipment_id, stored.next_slot, stored.garbage, devices
    )
    return _HEADER.dump_json(header)


def encode_segment(body: SegmentBody) -> bytes:
    """Magic, the run's JSON length (4 bytes), the run, then (t, temp, humidity) doubles; NaN is None."""
    run = _RUN.dump_json(body.run)
    values = array("d")
    for t, temp, humidity in body.samples:
        values.extend((t, math.nan if temp is None else temp, math.nan if humidity is None else humidity))
    if values.itemsize != 8:
        raise RuntimeError("this platform's C double is not 8 bytes")
    return _SEGMENT_MAGIC + len(run).to_bytes(4, "little") + run + _little_endian(values).tobytes()


def decode_segment(raw: bytes) -> SegmentBody:
    if not raw.startswith(_SEGMENT_MAGIC):
        raise ValueError("not an excursion state segment")
    start = len(_SEGMENT_MAGIC) + 4
    end = start + int.from_bytes(raw[len(_SEGMENT_MAGIC) : start], "little")
    run = _RUN.validate_json(raw[start:end])
    values = array("d")
    values.frombytes(raw[end:])
    values = _little_endian(values)
    samples: list[Sample] = [
        (values[i], _value(values[i + 1]), _value(values[i + 2])) for i in range(0, len(values), 3)
    ]
    return SegmentBody(run, samples)


def _loader(read: ReadValue, key: str) -> Callable[[], SegmentBody]:
    def load() -> SegmentBody:
        raw = read(key)
        if raw is None:
            raise MissingSegment(f"excursion state segment {key} is missing")
        return decode_segment(raw)

    return load


def _slot(segment: Segment) -> int:
    if segment.stored_as is None:
        raise ValueError("a sealed segment must be written before the header that names it")
    return segment.stored_as


def _value(number: float) -> float | None:
    return None if math.isnan(number) else number


def _little_endian(values: array[float]) -> array[float]:
    if sys.byteorder == "big":
        values.byteswap()
    return values


def _read_previous_layout(raw: bytes) -> StoredState:
    """The layout before segments: ``{"partition", "state": {..., "samples", "checkpoints"}}``."""
    document = json.loads(raw)
    body = document["state"]
    state = ShipmentState(body["shipment_id"])
    for device_id, old in body["devices"].items():
        state.devices[device_id] = _previous_device(device_id, old)
    return StoredState(int(document["partition"]), state)


def _previous_device(device_id: str, old: dict[str, Any]) -> DeviceState:
    checkpoints = [(float(c["t"]), _RUN.validate_python(c["run"])) for c in old["checkpoints"]]
    samples: list[Sample] = [(float(t), temp, humidity) for t, temp, humidity in old["samples"]]
    segments = []
    for index, (t, run) in enumerate(checkpoints):
        until = checkpoints[index + 1][0] if index + 1 < len(checkpoints) else math.inf
        segments.append(Segment(t, SegmentBody(run, [s for s in samples if t < s[0] <= until])))
    return DeviceState(
        device_id=device_id,
        segments=segments,
        run=_RUN.validate_python(old["run"]),
        closed=_CLOSED.validate_python(old.get("closed", {})),
        published=_PUBLISHED.validate_python(old.get("published", {})),
        last_received_at=old.get("last_received_at"),
        last_position=_position(old.get("last_position")),
        last_speed_kmh=old.get("last_speed_kmh"),
        silence=_SILENCE.validate_python(old.get("silence")),
        too_late=int(old.get("too_late", 0)),
    )


def _position(value: list[float] | None) -> tuple[float, float, float] | None:
    if not value:
        return None
    t, lat, lon = value
    return (float(t), float(lat), float(lon))
