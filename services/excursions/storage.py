"""How a shipment's excursion state is laid out in a key-value table (no faust in it).

Writing the whole state on every reading made each reading cost its device's whole
history (up to ``horizon_h`` of samples) in serialisation and changelog bytes, and
writing a shipment's every device for each step made a step cost the shipment's size (a
landed pallet of 100 trackers rewrote ~140 KB for each message of one of them). So the
state is split over keys of one table:

- the **shipment header**, under the shipment id: the source partition and the ids of its
  devices, in the order they were first seen. It is rewritten only when a device joins;
- each **device header**, under ``{shipment id}/{device id}``: everything of that device
  but its sealed segments' bodies, that is the run, the excursions, the segment being
  filled (at most ``checkpoint_every`` samples) and, per sealed segment, its checkpoint
  time and slot;
- each **sealed segment**, under ``{shipment id}/{device id}/{slot}``: its checkpoint and
  samples, packed as doubles. A slot is written once and never rewritten with other
  content: re-scoring writes the new segment to a new slot (copy on write).

A step writes the headers of the devices it changed only. An in-order reading rewrites
its device's header; one reading in ``checkpoint_every`` also writes the segment it seals.
A late reading rewrites its device's segments from its checkpoint on.

Crash safety, with every write of one step going to the same changelog partition in
order: new slots first, then the device header that points at them, then the shipment
header that names a new device, then deletion of the slots no longer used. A crash
before a header leaves the old one pointing at old, untouched slots (or a device header
no shipment header names yet); the readings are processed again from the same state and
write the same keys with the same content. A crash after a device header but before the
deletions leaves slots that the header lists in ``garbage``; that device's next write
deletes them again.

Values written by the earlier layouts (the whole state as one JSON document; then one
header per shipment with every device in it, format 2) are read and rewritten in this
layout on the shipment's next step.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from services.excursions.state import (
    ClosedExcursion,
    Devices,
    DeviceState,
    Published,
    Run,
    Sample,
    Segment,
    SegmentBody,
    ShipmentState,
    Silence,
    new_device,
)

log = logging.getLogger(__name__)

SEPARATOR = "/"  # never in a shipment or device id (schemas.common.DEVICE_ID_PATTERN)
HEADER_FORMAT = 3
_HEADER_PREFIX = b'{"format":3,'
_FORMAT_2_PREFIX = b'{"format":2,'
_SEGMENT_MAGIC = b"XS1"

ReadValue = Callable[[str], bytes | None]


class MissingSegment(LookupError):
    """A header points at a slot that holds nothing: that part of the history is lost."""


@dataclass(slots=True)
class DeviceSlots:
    """What the layout keeps of one device beside the core's state."""

    next_slot: int = 0
    slots: set[int] = field(default_factory=set)  # the slots its stored header refers to
    garbage: list[int] = field(default_factory=list)  # slots to delete (again) on its next write
    raw: bytes | None = None  # the header bytes it was read from or last written as


# Device headers' bytes with what was decoded from them, by key: when the table hands back
# those very bytes, decoding them again would rebuild the same device. A device is taken out
# while a step uses it (the core changes it in place) and put back by ``write`` or ``keep``.
Decoded = dict[str, tuple[bytes, DeviceState, DeviceSlots]]


@dataclass(slots=True)
class StoredState:
    """The core's state plus what the layout needs to write it back."""

    partition: int  # the source partition the shipment's readings come from
    state: ShipmentState
    listed: list[str] = field(default_factory=list)  # the device ids the stored shipment header names
    garbage: list[str] = field(default_factory=list)  # keys the stored shipment header lists to delete again
    retired: list[str] = field(default_factory=list)  # keys of an earlier layout, to delete after this write
    devices: dict[str, DeviceSlots] = field(default_factory=dict)  # of the devices read or added
    stored: bool = False  # whether a shipment header of this layout is in the table

    def slots_of(self, device_id: str) -> DeviceSlots:
        """The storage slots of a device of the shipment (reading the device if not read yet)."""
        self.state.devices[device_id]
        return self.devices.setdefault(device_id, DeviceSlots())


@dataclass(frozen=True, slots=True)
class Writes:
    """Table operations, in the order they must be applied."""

    puts: list[tuple[str, bytes]]  # segments, then their device's header; the shipment header last
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
class _DeviceHeader:
    next_slot: int
    garbage: list[int]
    device: _StoredDevice


@dataclass(slots=True)
class _ShipmentHeader:
    format: int  # first field: the dump starts with _HEADER_PREFIX
    partition: int
    shipment_id: str
    devices: list[str]
    garbage: list[str]


@dataclass(slots=True)
class _Format2Header:
    format: int
    partition: int
    shipment_id: str
    next_slot: int
    garbage: list[int]
    devices: dict[str, _StoredDevice]


_SHIPMENT_HEADER = TypeAdapter(_ShipmentHeader)
_DEVICE_HEADER = TypeAdapter(_DeviceHeader)
_FORMAT_2 = TypeAdapter(_Format2Header)
_RUN = TypeAdapter(Run)
_CLOSED = TypeAdapter(dict[str, ClosedExcursion])
_PUBLISHED = TypeAdapter(dict[str, Published])
_SILENCE = TypeAdapter(Silence | None)


def device_key(shipment_id: str, device_id: str) -> str:
    # Two separators, as a segment's key: never a format 2 segment's ({shipment id}/{slot}).
    return f"{shipment_id}{SEPARATOR}{device_id}{SEPARATOR}h"


def segment_key(shipment_id: str, device_id: str, slot: int) -> str:
    return f"{shipment_id}{SEPARATOR}{device_id}{SEPARATOR}{slot}"


def is_header_key(key: str) -> bool:
    """True for a shipment header, false for its devices' headers and segments."""
    return SEPARATOR not in key


def write(stored: StoredState, read: ReadValue, cache: Decoded | None = None) -> Writes:
    """Encodes what the step changed: the devices it read or added whose header is not what
    the table holds, and the shipment header when a device joined.

    The segments written are unloaded from memory (read back through ``read`` when late
    data needs them), so a state kept between steps holds headers and open segments only.
    Each device's header goes into ``cache`` with the bytes it is stored as.
    """
    shipment_id = stored.state.shipment_id
    puts: list[tuple[str, bytes]] = []
    deletes: list[str] = []
    for device_id, device in stored.state.devices.loaded().items():
        slots = stored.devices.setdefault(device_id, DeviceSlots())
        for segment in device.segments[:-1]:
            if segment.stored_as is None:
                segment.stored_as = slots.next_slot
                slots.next_slot += 1
                puts.append((segment_key(shipment_id, device_id, segment.stored_as), encode_segment(segment.body)))
            if segment.loaded:
                segment.unload(_loader(read, segment_key(shipment_id, device_id, segment.stored_as)))
        live = {_slot(segment) for segment in device.segments[:-1]}
        dropped = slots.slots - live
        gone = sorted(dropped | set(slots.garbage))
        slots.slots, slots.garbage = live, sorted(dropped)
        raw = encode_device(device, slots)
        if raw != slots.raw:
            puts.append((device_key(shipment_id, device_id), raw))
            slots.raw = raw
        deletes.extend(segment_key(shipment_id, device_id, slot) for slot in gone)
        if cache is not None:
            cache[device_key(shipment_id, device_id)] = (slots.raw, device, slots)
    ids = list(stored.state.devices)
    if not stored.stored or ids != stored.listed or stored.garbage or stored.retired:
        deletes.extend(sorted(set(stored.retired) | set(stored.garbage)))
        header = _ShipmentHeader(HEADER_FORMAT, stored.partition, shipment_id, ids, stored.retired)
        puts.append((shipment_id, _SHIPMENT_HEADER.dump_json(header)))
        stored.listed, stored.garbage, stored.retired, stored.stored = ids, stored.retired, [], True
    return Writes(puts, deletes)


def keep(stored: StoredState, cache: Decoded) -> None:
    """Puts the devices read back into ``cache`` unchanged: for a step that changed nothing."""
    shipment_id = stored.state.shipment_id
    for device_id, device in stored.state.devices.loaded().items():
        slots = stored.devices.get(device_id)
        if slots is not None and slots.raw is not None:
            cache[device_key(shipment_id, device_id)] = (slots.raw, device, slots)


def keys_of(stored: StoredState) -> list[str]:
    """Every key the shipment's state occupies (to delete it all; reads every device)."""
    shipment_id = stored.state.shipment_id
    keys = [shipment_id, *stored.garbage, *stored.retired]
    for device_id in stored.state.devices:
        slots = stored.slots_of(device_id)
        keys.append(device_key(shipment_id, device_id))
        keys.extend(segment_key(shipment_id, device_id, slot) for slot in sorted(slots.slots | set(slots.garbage)))
    return keys


def read_state(raw: bytes, read: ReadValue, cache: Decoded | None = None) -> StoredState:
    """Decodes a shipment header; its devices load when used, their sealed segments later
    still, through ``read`` (a device header still in ``cache`` as the same bytes is not
    decoded again)."""
    if raw.startswith(_FORMAT_2_PREFIX):
        return _read_format_2(raw, read)
    if not raw.startswith(_HEADER_PREFIX):
        return _read_previous_layout(raw)
    header = _SHIPMENT_HEADER.validate_json(raw)
    shipment_id = header.shipment_id
    stored = StoredState(header.partition, ShipmentState(shipment_id), list(header.devices), list(header.garbage),
                         stored=True)

    def load(device_id: str) -> DeviceState:
        key = device_key(shipment_id, device_id)
        value = read(key)
        cached = cache.pop(key, None) if cache is not None else None
        if cached is not None and value is not None and cached[0] is value:
            device, slots = cached[1], cached[2]
        elif value is None:  # named before its header was stored, or lost: it starts afresh
            log.error("excursion state of device %s of shipment %s is missing", device_id, shipment_id,
                      extra={"shipment_id": shipment_id, "device_id": device_id})
            device, slots = new_device(device_id), DeviceSlots()
        else:
            device, slots = decode_device(shipment_id, device_id, value, read)
        stored.devices[device_id] = slots
        return device

    stored.state.devices = Devices(header.devices, load)
    return stored


def encode_device(device: DeviceState, slots: DeviceSlots) -> bytes:
    tail = device.segments[-1]
    return _DEVICE_HEADER.dump_json(_DeviceHeader(slots.next_slot, slots.garbage, _StoredDevice(
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
    )))


def decode_device(shipment_id: str, device_id: str, raw: bytes, read: ReadValue) -> tuple[DeviceState, DeviceSlots]:
    header = _DEVICE_HEADER.validate_json(raw)
    sealed = header.device.sealed
    device = _device(device_id, header.device, [
        Segment(t, stored_as=slot, load=_loader(read, segment_key(shipment_id, device_id, slot))) for t, slot in sealed
    ])
    return device, DeviceSlots(header.next_slot, {slot for _, slot in sealed}, header.garbage, raw)


def _device(device_id: str, stored: _StoredDevice, sealed: list[Segment]) -> DeviceState:
    return DeviceState(
        device_id=device_id,
        segments=[*sealed, Segment(stored.tail_t, stored.tail)],
        run=stored.run,
        closed=stored.closed,
        published=stored.published,
        last_received_at=stored.last_received_at,
        last_position=stored.last_position,
        last_speed_kmh=stored.last_speed_kmh,
        silence=stored.silence,
        too_late=stored.too_late,
    )


def _read_format_2(raw: bytes, read: ReadValue) -> StoredState:
    """One header per shipment with every device in it, segments under ``{shipment id}/{slot}``.

    Every device is rewritten in this layout on the next step, its sealed segments under
    new keys (read from the old ones then), and the old keys deleted after.
    """
    header = _FORMAT_2.validate_json(raw)
    shipment_id = header.shipment_id
    state = ShipmentState(shipment_id)
    old_keys: set[int] = set(header.garbage)
    for device_id, stored in header.devices.items():
        old_keys.update(slot for _, slot in stored.sealed)
        state.devices[device_id] = _device(device_id, stored, [
            Segment(t, load=_loader(read, f"{shipment_id}{SEPARATOR}{slot}")) for t, slot in stored.sealed
        ])
    retired = [f"{shipment_id}{SEPARATOR}{slot}" for slot in sorted(old_keys)]
    return StoredState(header.partition, state, retired=retired)


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
