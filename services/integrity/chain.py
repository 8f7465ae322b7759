"""The readings hash chain: its record encoding, its links, and the walk that checks it.

Per device, readings in time order::

    h_0 = SHA-256("coldchain-chain-v1:" || device_id)          (or the retention anchor)
    h_i = SHA-256(h_{i-1} || record(reading_i))

``record`` is a fixed binary encoding, chosen so that any tool recomputes it exactly
(PostgreSQL itself: ``int8send``, ``float8send``, ``convert_to``; README "Auditors"):
the fields ``time, device_id, shipment_id, seq, temp_c, humidity_pct, lat, lon,
speed_kmh, battery_pct`` in that order, each a byte 0x00 for NULL, or 0x01 followed by

- ``time``: microseconds since 1970-01-01T00:00:00Z, int64 big-endian;
- text: its UTF-8 length as int32 big-endian, then the UTF-8 bytes;
- ``seq``: int64 big-endian;
- numbers: IEEE 754 binary64, big-endian.

Pure: no database here (services/integrity/store.py reads and writes the tables).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

GENESIS_PREFIX = b"coldchain-chain-v1:"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT32 = struct.Struct(">i")
_NULL = b"\x00"
_PRESENT = b"\x01"
_PRESENT_INT64 = struct.Struct(">Bq")  # the flag 0x01, then the value
_PRESENT_FLOAT64 = struct.Struct(">Bd")
_MICROSECOND = timedelta(microseconds=1)


class ChainedReading(NamedTuple):
    """The fields of a reading the chain covers (a row of ``readings``). A tuple: the sink
    makes one per stored reading."""

    time: datetime
    device_id: str
    shipment_id: str | None
    seq: int | None
    temp_c: float | None
    humidity_pct: float | None
    lat: float | None
    lon: float | None
    speed_kmh: float | None
    battery_pct: float | None


# The column order of ChainedReading, for queries that build one from a row.
CHAINED_COLUMNS = ("time", "device_id", "shipment_id", "seq", "temp_c", "humidity_pct", "lat", "lon",
                   "speed_kmh", "battery_pct")


def genesis(device_id: str) -> bytes:
    return hashlib.sha256(GENESIS_PREFIX + device_id.encode()).digest()


def record(reading: ChainedReading | tuple[Any, ...]) -> bytes:
    """The encoding of a ``ChainedReading``, or of a row whose first ten fields are its (the
    sink's COPY rows: no tuple of its own a reading)."""
    # Hot path of the sink (one call per stored reading): each field packed with its flag in
    # one call, a device's or shipment's encoded text reused, the parts joined once (1.6 µs a
    # reading against 3.0 for packing a tail of its own; bench/HISTORY.md, session 15).
    time, device_id, shipment_id, seq, temp_c, humidity_pct, lat, lon, speed_kmh, battery_pct = reading[:10]
    number = _PRESENT_FLOAT64.pack
    return b"".join((
        _PRESENT_INT64.pack(1, (time - EPOCH) // _MICROSECOND), _text(device_id),
        _NULL if shipment_id is None else _text(shipment_id),
        _NULL if seq is None else _PRESENT_INT64.pack(1, seq),
        _NULL if temp_c is None else number(1, temp_c), _NULL if humidity_pct is None else number(1, humidity_pct),
        _NULL if lat is None else number(1, lat), _NULL if lon is None else number(1, lon),
        _NULL if speed_kmh is None else number(1, speed_kmh), _NULL if battery_pct is None else number(1, battery_pct),
    ))


@lru_cache(maxsize=65_536)
def _text(value: str) -> bytes:
    encoded = value.encode()
    return _PRESENT + _INT32.pack(len(encoded)) + encoded


def link(previous: bytes, reading: ChainedReading | tuple[Any, ...]) -> bytes:
    return hashlib.sha256(previous + record(reading)).digest()


def links(starts: Mapping[str, bytes], rows: Iterable[tuple[Any, ...]]) -> list[bytes]:
    """Each row's chain hash. The rows are ordered by device, then time, and begin with the ten
    fields of a ``ChainedReading``; a device's first row follows ``starts[device_id]``. The
    sink's path for readings with nothing stored after them (a landed backlog, live tracking)."""
    hashes: list[bytes] = []
    device_id: str | None = None
    current = b""
    for row in rows:
        if row[1] != device_id:
            device_id = row[1]
            current = starts[device_id]
        current = link(current, row)
        hashes.append(current)
    return hashes


def extend(previous: bytes, readings: Iterable[ChainedReading]) -> Iterator[tuple[ChainedReading, bytes]]:
    """Each reading (already in time order) with its chain hash, starting after ``previous``."""
    current = previous
    for reading in readings:
        current = link(current, reading)
        yield reading, current


@dataclass(frozen=True)
class Break:
    """Where the stored chain first disagrees with the stored readings."""

    device_id: str
    time: datetime
    reason: str  # "changed", "missing-hash"
    reading: ChainedReading | None
    stored_hash: bytes | None
    computed_hash: bytes | None

    def describe(self) -> str:
        at = f"{self.device_id} at {self.time.isoformat()}"
        if self.reason == "missing-hash":
            return f"reading {at} is not in the hash chain (inserted outside the sink?)"
        values = "" if self.reading is None else f" (stored now: temp_c={self.reading.temp_c}, " \
                                                 f"humidity_pct={self.reading.humidity_pct})"
        # Each hash covers the one before it: a reading deleted just before this one breaks
        # the chain here as well.
        return f"reading {at} differs from what was chained{values}, or the reading before it was deleted"


@dataclass(frozen=True)
class DeviceVerdict:
    device_id: str
    checked: int
    head: bytes | None  # the last stored hash, to be kept by the auditor
    first_break: Break | None

    @property
    def intact(self) -> bool:
        return self.first_break is None


def verify(device_id: str, start: bytes, rows: Iterable[tuple[ChainedReading, bytes | None]]) -> DeviceVerdict:
    """Walks the device's stored readings in time order, each with its stored chain hash, and
    stops at the first disagreement."""
    previous = start
    checked = 0
    head: bytes | None = None
    for reading, stored in rows:
        computed = link(previous, reading)
        if stored is None:
            return DeviceVerdict(device_id, checked, head,
                                 Break(device_id, reading.time, "missing-hash", reading, None, computed))
        if computed != stored:
            return DeviceVerdict(device_id, checked, head,
                                 Break(device_id, reading.time, "changed", reading, stored, computed))
        previous = head = stored
        checked += 1
    return DeviceVerdict(device_id, checked, head, None)
