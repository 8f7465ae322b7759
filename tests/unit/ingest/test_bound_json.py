"""Ingest binds readings after decoding them and writes each record's JSON once: the bytes
parse to exactly the batch that binding every reading's model would have made, whether the
decoder gave pydantic models (the exact path), msgspec structs (the fast path) or a mix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from schemas.reading import Reading, ReadingBatch
from schemas.reading_wire import WireReading, decode_readings
from services.ingest.bridge import bound_json

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
# Any float, whatever its decimals: these records must be read by msgspec (only a time's
# 7-digit fraction sends a record to pydantic).
maybe = st.none() | st.floats(min_value=-20, max_value=40, allow_nan=False)


@st.composite
def readings(draw: st.DrawFn) -> list[Reading]:
    device = draw(ids)
    count = draw(st.integers(min_value=1, max_value=30))
    return [Reading(device_id=device, time=T0 + timedelta(minutes=i), seq=i, temp_c=draw(maybe),
                    humidity_pct=draw(st.none() | st.floats(min_value=0, max_value=100)),
                    received_at=T0 + timedelta(hours=20), source=draw(st.sampled_from(["json", "senml"])))
            for i in range(count)]


Kind = Literal["model", "wire", "mix"]
kinds = st.sampled_from(["model", "wire", "mix"])


def _as(kind: Kind, batch: list[Reading]) -> list[Reading | WireReading]:
    """The readings as the decoder would give them: models, the structs of equal values, or both."""
    wire = [WireReading(**r.model_dump()) for r in batch]
    if kind == "mix":
        return [r if i % 2 else w for i, (r, w) in enumerate(zip(batch, wire, strict=True))]
    return list(batch) if kind == "model" else list(wire)


def _read_by_msgspec(raw: bytes) -> list[WireReading]:
    """What the stream processors and the sink decode: it must not need reading_wire's fallback."""
    decoded = decode_readings(raw)
    assert all(isinstance(r, WireReading) for r in decoded)
    return decoded  # type: ignore[return-value]


@given(readings(), ids, kinds)
def test_the_bound_bytes_are_the_batch_of_bound_models(batch: list[Reading], shipment_id: str, kind: Kind) -> None:
    expected = ReadingBatch(readings=[r.model_copy(update={"shipment_id": shipment_id}) for r in batch])
    raw = bound_json(_as(kind, batch), shipment_id)
    assert ReadingBatch.model_validate_json(raw) == expected
    assert [msgspec.structs.asdict(r) for r in _read_by_msgspec(raw)] == [r.model_dump() for r in expected.readings]


@given(readings(), kinds)
def test_unbound_readings_stay_unbound(batch: list[Reading], kind: Kind) -> None:
    raw = bound_json(_as(kind, batch), None)
    parsed = ReadingBatch.model_validate_json(raw)
    assert parsed == ReadingBatch(readings=batch) and all(r.shipment_id is None for r in parsed.readings)
    assert all(r.shipment_id is None for r in _read_by_msgspec(raw))


def test_a_device_id_cannot_smuggle_the_marker() -> None:
    # a device id is a plain token; even so, the replacement only ever touches the field itself
    reading = Reading(device_id="TRK-1", time=T0, received_at=T0)
    for kind in ("model", "wire"):
        raw = bound_json(_as(kind, [reading, reading.model_copy(update={"seq": 2})]), "SHP-1")
        assert raw.count(b'"shipment_id":"SHP-1"') == 2 and b"null" not in raw.split(b'"shipment_id":')[1][:5]
