"""Ingest binds readings after decoding them and writes each record's JSON once: the bytes
parse to exactly the batch that binding every reading's model would have made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from schemas.reading import Reading, ReadingBatch
from services.ingest.bridge import bound_json

T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
maybe = st.none() | st.floats(min_value=-20, max_value=40, allow_nan=False)


@st.composite
def readings(draw: st.DrawFn) -> list[Reading]:
    device = draw(ids)
    count = draw(st.integers(min_value=1, max_value=30))
    return [Reading(device_id=device, time=T0 + timedelta(minutes=i), seq=i, temp_c=draw(maybe),
                    humidity_pct=draw(st.none() | st.floats(min_value=0, max_value=100)),
                    received_at=T0 + timedelta(hours=20), source=draw(st.sampled_from(["json", "senml"])))
            for i in range(count)]


@given(readings(), ids)
def test_the_bound_bytes_are_the_batch_of_bound_models(batch: list[Reading], shipment_id: str) -> None:
    expected = ReadingBatch(readings=[r.model_copy(update={"shipment_id": shipment_id}) for r in batch])
    assert ReadingBatch.model_validate_json(bound_json(batch, shipment_id)) == expected


@given(readings())
def test_unbound_readings_stay_unbound(batch: list[Reading]) -> None:
    parsed = ReadingBatch.model_validate_json(bound_json(batch, None))
    assert parsed == ReadingBatch(readings=batch) and all(r.shipment_id is None for r in parsed.readings)


def test_a_device_id_cannot_smuggle_the_marker() -> None:
    # a device id is a plain token; even so, the replacement only ever touches the field itself
    reading = Reading(device_id="TRK-1", time=T0, received_at=T0)
    raw = bound_json([reading, reading.model_copy(update={"seq": 2})], "SHP-1")
    assert raw.count(b'"shipment_id":"SHP-1"') == 2 and b"null" not in raw.split(b'"shipment_id":')[1][:5]
