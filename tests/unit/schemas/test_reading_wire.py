"""The fast readings decoder (schemas/reading_wire.py) accepts exactly what ``ReadingBatch``
accepts, with equal values, and refuses the rest with pydantic's ``ValidationError``."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.reading import ReadingBatch
from schemas.reading_wire import ReadingRecord, decode_readings, encode_readings, row_of

FIELDS = ("device_id", "time", "shipment_id", "seq", "temp_c", "humidity_pct", "lat", "lon", "speed_kmh",
          "battery_pct", "received_at", "source")

_times = st.sampled_from([
    "2026-11-09T18:00:00Z", "2026-11-09T18:00:00.5Z", "2026-11-09T18:00:00.123456+05:30", "2026-11-09 18:00:00Z",
    "2026-11-09t18:00:00z", "2026-11-09T18:00:00.1234567Z", "2026-11-09T18:00:00.9999995Z", "2026-11-09T18:00:00",
    "2026-11-09T18:00Z", "2026-02-30T00:00:00Z", "2026-11-09T24:00:00Z", "2026-11-09T18:00:60Z", "2026-11-09",
    "2026-11-09T18:00:00-00:00", "0001-01-01T00:00:00+01:00", "nonsense", "",
]) | st.integers(-10, 2_000_000_000) | st.floats(allow_nan=False, allow_infinity=False) | st.none() | st.booleans()
_ids = st.sampled_from(["TRK-1", "SHP-1", "a.b_c-9", "TRK-1\n", "", "x" * 64, "x" * 65, "TRK 1", "TRK-é"])
_numbers = (st.floats() | st.integers(-200, 2**64) | st.sampled_from([-0.0, 80.0, 80.0000001, -60, 100, "3.5", True])
            | st.none())


@st.composite
def readings(draw: st.DrawFn) -> dict[str, Any]:
    reading: dict[str, Any] = {"device_id": "TRK-1", "time": "2026-11-09T18:00:00Z", "shipment_id": "SHP-1",
                               "received_at": "2026-11-09T18:05:00Z"}
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        if field in ("time", "received_at"):
            value = draw(_times)
        elif field in ("device_id", "shipment_id"):
            value = draw(_ids | st.none())
        elif field == "source":
            value = draw(st.sampled_from(["json", "senml", "mqtt", None]))
        else:
            value = draw(_numbers)
        if draw(st.booleans()) and field not in ("device_id", "time", "received_at"):
            reading.pop(field, None)
        else:
            reading[field] = value
    return reading


@st.composite
def records(draw: st.DrawFn) -> bytes:
    batch = draw(st.lists(readings(), min_size=0, max_size=4))
    shape = draw(st.sampled_from(["batch", "batch", "bare", "extra", "list"]))
    document: Any = {"readings": batch}
    if shape == "bare":
        document = batch[0] if batch else {}
    elif shape == "extra":
        document = {"readings": batch, "unknown": 1}
    elif shape == "list":
        document = batch
    return json.dumps(document).encode()


def _pydantic(raw: bytes) -> list[tuple[Any, ...]] | str:
    try:
        return [row_of(r) for r in ReadingBatch.model_validate_json(raw).readings]
    except ValidationError:
        return "refused"


def _fast(raw: bytes) -> list[tuple[Any, ...]] | str:
    try:
        return ReadingRecord.model_validate_json(raw).rows
    except ValidationError:
        return "refused"


@settings(max_examples=600, deadline=None)
@given(records())
def test_the_fast_decoder_gives_what_pydantic_gives(raw: bytes) -> None:
    expected, found = _pydantic(raw), _fast(raw)
    assert found == expected
    if isinstance(expected, list) and isinstance(found, list):
        assert _kinds(found) == _kinds(expected)


@settings(max_examples=300, deadline=None)
@given(records(), st.integers(1, 5))
def test_encoded_readings_decode_to_the_same_rows(raw: bytes, per_record: int) -> None:
    """What a processor keeps of decoded readings (ETA's held readings) reads back the same,
    from the fast path's structs and from pydantic's models alike."""
    expected = _pydantic(raw)
    if not isinstance(expected, list):
        return
    for decoded in (decode_readings(raw), ReadingBatch.model_validate_json(raw).readings):
        encoded = encode_readings(decoded, per_record)
        assert all(len(decode_readings(record)) <= per_record for record in encoded)
        found = [row for record in encoded for row in ReadingRecord.model_validate_json(record).rows]
        assert found == expected
        assert _kinds(found) == _kinds(expected)


def _kinds(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Each value's type, and a float's sign: the chain packs -0.0 and 0.0 differently."""
    return [tuple((type(v), math.copysign(1, v) if isinstance(v, float) else None) for v in row) for row in rows]


def test_a_landed_message_decodes_without_pydantic_to_equal_readings() -> None:
    batch = ReadingBatch(readings=[
        {"device_id": "TRK-1", "time": f"2026-11-09T18:{m:02d}:00Z", "shipment_id": "SHP-1", "seq": m, "temp_c": 2.5,
         "humidity_pct": 91.5, "lat": 44.88, "lon": -63.5, "battery_pct": 88.0, "received_at": "2026-11-09T20:00:00Z"}
        for m in range(60)])  # type: ignore[list-item]
    raw = batch.model_dump_json().encode()
    fast = decode_readings(raw)
    assert type(fast[0]).__name__ == "WireReading"
    for wire, model in zip(fast, batch.readings, strict=True):
        assert {f: getattr(wire, f) for f in FIELDS} == model.model_dump()
        assert wire.key == model.key


@pytest.mark.parametrize("raw", [
    b"", b"not json", b"\xff\xfe", b"[]", b'{"readings": []}', b"null",
    b'{"readings": [{"device_id": "TRK-1", "time": "2026-11-09T18:00:00Z", "received_at": "2026-11-09T18:00:00Z"},'
    b' {"device_id": "TRK-2", "time": "2026-11-09T18:01:00Z", "received_at": "2026-11-09T18:01:00Z"}]}',
    b'{"readings": [{"device_id": "TRK-1\\n", "time": "2026-11-09T18:00:00Z", "received_at": "2026-11-09T18:00:00Z"}]}',
    b'{"readings": [{"device_id": "TRK-1", "shipment_id": "SHP 1", "time": "2026-11-09T18:00:00Z",'
    b' "received_at": "2026-11-09T18:00:00Z"}, {"device_id": "TRK-1", "shipment_id": "SHP 1",'
    b' "time": "2026-11-09T18:01:00Z", "received_at": "2026-11-09T18:01:00Z"}]}',
    b'{"readings": [{"device_id": "", "time": "2026-11-09T18:00:00Z", "received_at": "2026-11-09T18:00:00Z"}]}',
    b'{"readings": [{"device_id": "TRK-1", "time": "2026-11-09T18:00:00Z", "received_at": "2026-11-09T18:00:00Z",'
    b' "temp_c": 1e999}]}',
])
def test_a_bad_record_is_refused_with_pydantics_error(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        ReadingRecord.model_validate_json(raw)
    with pytest.raises(ValidationError):
        decode_readings(raw)
