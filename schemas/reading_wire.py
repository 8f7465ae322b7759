"""A fast decoder of ``coldchain.readings`` records that accepts exactly what ``ReadingBatch``
accepts, with equal values.

A landing burst is millions of readings, each decoded by the sink and by both stream
processors: pydantic's validation was most of the sink's CPU. msgspec decodes the JSON
straight into slotted, untracked structs, checking the same bounds; its schema is kept
*narrower* than ``ReadingBatch`` and whatever it refuses is handed to ``ReadingBatch``,
which accepts it (an older form: a bare reading, epoch seconds, a 7-digit fraction) or
raises its ``ValidationError``. So a record that does not parse is refused exactly as
before (the sink's dead letter), and every record that does parses to the same values
(tests/unit/schemas/test_reading_wire.py compares the two on generated records).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol, TypeGuard, cast

import msgspec

from schemas.common import BIGINT_MAX, MAX_SPEED_KMH
from schemas.reading import READING_BATCH_MAX, Reading, ReadingBatch


class ReadingLike(Protocol):
    """What the stream processors read of a reading: a ``Reading`` or a ``WireReading``."""

    @property
    def device_id(self) -> str: ...
    @property
    def time(self) -> datetime: ...
    @property
    def shipment_id(self) -> str | None: ...
    @property
    def temp_c(self) -> float | None: ...
    @property
    def humidity_pct(self) -> float | None: ...
    @property
    def lat(self) -> float | None: ...
    @property
    def lon(self) -> float | None: ...
    @property
    def speed_kmh(self) -> float | None: ...
    @property
    def received_at(self) -> datetime: ...


# The bounds of schemas.common's pydantic types as msgspec checks them, for every msgspec
# reader of a reading's fields (this decoder, ingest's fast path). Python's re: "$" would also
# match before a final newline, which pydantic refuses.
WIRE_ID_PATTERN = r"\A[A-Za-z0-9_.-]{1,64}\Z"
WireId = Annotated[str, msgspec.Meta(pattern=WIRE_ID_PATTERN)]
WireTime = Annotated[datetime, msgspec.Meta(tz=True)]  # a naive time goes to pydantic
WireSeq = Annotated[int, msgspec.Meta(ge=0, le=BIGINT_MAX)]
# Finite bounds: NaN and infinities fail them, as allow_inf_nan=False refuses them.
WireTemp = Annotated[float, msgspec.Meta(ge=-60, le=80)]
WirePercent = Annotated[float, msgspec.Meta(ge=0, le=100)]
WireLat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
WireLon = Annotated[float, msgspec.Meta(ge=-180, le=180)]
WireSpeed = Annotated[float, msgspec.Meta(ge=0, le=MAX_SPEED_KMH)]


class WireReading(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A ``Reading``'s fields, in the order of the sink's COPY columns (``READING_COLUMNS``),
    so ``msgspec.structs.astuple`` is the row; the first ten are the hash chain's.

    The ids are checked against ``WIRE_ID_PATTERN`` once per record by ``decode_readings``
    (a record's readings share them), not per reading: two pattern matches a reading were
    two thirds of the decoding, which the sink and both processors do for every reading.
    """

    time: WireTime
    device_id: str
    shipment_id: str | None = None
    seq: WireSeq | None = None
    temp_c: WireTemp | None = None
    humidity_pct: WirePercent | None = None
    lat: WireLat | None = None
    lon: WireLon | None = None
    speed_kmh: WireSpeed | None = None
    battery_pct: WirePercent | None = None
    source: Literal["json", "senml"] = "json"
    received_at: WireTime

    @property
    def key(self) -> str:
        return self.shipment_id or f"device:{self.device_id}"


class WireBatch(msgspec.Struct, gc=False):
    """A ``ReadingBatch`` as msgspec reads and writes it (ingest encodes its records with it)."""

    readings: Annotated[list[WireReading], msgspec.Meta(min_length=1, max_length=READING_BATCH_MAX)]


_DECODER = msgspec.json.Decoder(WireBatch)
# msgspec rounds a fraction of a second beyond microseconds, pydantic truncates it: such a
# record (never written by ingest) is left to pydantic. Only a time's fraction counts (what
# ends a time's digits: its zone or its quote; a number's: "e", "," or "}"): a GPS fix's 7th
# decimal is no reason to leave the fast path. Led by "." so the scan stays quick (one led
# by a digit cost 2.8 µs a reading, more than decoding it).
_ID = re.compile(WIRE_ID_PATTERN)
_LONG_FRACTION = re.compile(rb'\.\d{7,}[Zz+"-]')


def decode_readings(raw: bytes) -> list[WireReading] | list[Reading]:
    """The readings of one record, as ``ReadingBatch.model_validate_json(raw).readings`` would
    give them (equal values); raises its ``pydantic.ValidationError`` for a record it refuses."""
    try:
        readings = _DECODER.decode(raw).readings
    except (msgspec.DecodeError, UnicodeDecodeError):
        return ReadingBatch.model_validate_json(raw).readings
    first = readings[0]
    device_id, shipment_id = first.device_id, first.shipment_id
    for reading in readings:
        if reading.device_id != device_id or reading.shipment_id != shipment_id:
            return ReadingBatch.model_validate_json(raw).readings  # refuses it, with its message
    if _ID.search(device_id) is None or (shipment_id is not None and _ID.search(shipment_id) is None):
        return ReadingBatch.model_validate_json(raw).readings  # refuses it, with its message
    if _LONG_FRACTION.search(raw) is not None:
        return ReadingBatch.model_validate_json(raw).readings
    return readings


_WIRE_JSON = msgspec.json.Encoder()


def batch_json(readings: Sequence[ReadingLike]) -> bytes:
    """One ``coldchain.readings`` record (a ``ReadingBatch``'s JSON) of decoded readings, which
    ``decode_readings`` gives back equal. msgspec writes the fast path's structs (in under half
    pydantic's time for a model); a message's readings all come from one decoder path, so a mix
    (never made; handled so that any list is written) is written by pydantic."""
    if _all_wire(readings):
        return _WIRE_JSON.encode(WireBatch(readings))
    # Decoded readings are one of the two decoders' types: a model, where not a struct.
    models = [Reading.model_construct(**msgspec.structs.asdict(r)) if isinstance(r, WireReading) else cast(Reading, r)
              for r in readings]
    return ReadingBatch.model_construct(readings=models).model_dump_json().encode()


def _all_wire(readings: Sequence[ReadingLike]) -> TypeGuard[list[WireReading]]:
    return all(isinstance(reading, WireReading) for reading in readings)


def encode_readings(readings: Sequence[ReadingLike], per_record: int = READING_BATCH_MAX) -> list[bytes]:
    """Readings as ``coldchain.readings`` records (``batch_json``), at most ``per_record`` (up to
    ``READING_BATCH_MAX``) to a record: for a processor that must keep readings it decoded
    (ETA's held readings)."""
    size = min(per_record, READING_BATCH_MAX)
    return [batch_json(readings[i:i + size]) for i in range(0, len(readings), size)]


def row_of(reading: Reading) -> tuple[Any, ...]:
    """A pydantic reading as the COPY row ``msgspec.structs.astuple`` makes of a ``WireReading``."""
    return (reading.time, reading.device_id, reading.shipment_id, reading.seq, reading.temp_c, reading.humidity_pct,
            reading.lat, reading.lon, reading.speed_kmh, reading.battery_pct, reading.source, reading.received_at)


class ReadingRows(msgspec.Struct, frozen=True, gc=False):
    """One record of ``coldchain.readings`` as the sink stores it: its COPY rows."""

    device_id: str
    rows: list[tuple[Any, ...]]


class ReadingRecord:
    """The sink's model of ``coldchain.readings`` for the consumer loop: ``model_validate_json``
    gives the record's ``ReadingRows`` or raises ``pydantic.ValidationError`` (the loop's
    unreadable record, kept as a dead letter), as ``ReadingBatch`` did."""

    @staticmethod
    def model_validate_json(raw: bytes | str) -> ReadingRows:
        data = raw.encode() if isinstance(raw, str) else raw
        readings = decode_readings(data)
        if isinstance(readings[0], WireReading):
            astuple = msgspec.structs.astuple
            return ReadingRows(readings[0].device_id, [astuple(r) for r in readings])  # type: ignore[arg-type]
        return ReadingRows(readings[0].device_id, [row_of(r) for r in readings])  # type: ignore[arg-type]
