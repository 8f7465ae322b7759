"""The decoders: every input accepted or refused with a reason, never an unexpected error."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.decoding import decode_message

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
TOPIC = "coldchain/v1/devices/TRK-1/telemetry"
SENML = "coldchain/v1/devices/TRK-1/senml"


def sample(**fields: object) -> dict[str, object]:
    return {"device_id": "TRK-1", "ts": "2026-11-10T11:00:00Z", "temp_c": 3.0, **fields}


def decode(payload: object, topic: str = TOPIC):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return decode_message(topic, raw, NOW)


def test_one_sample_becomes_one_reading_in_utc():
    decoded = decode(sample(ts="2026-11-10T19:00:00+08:00", humidity_pct=90, lat=44.9, lon=-63.5, extra="x"))
    assert decoded.refused == []
    (reading,) = decoded.readings
    assert reading.time == datetime(2026, 11, 10, 11, 0, tzinfo=UTC)
    assert (reading.temp_c, reading.humidity_pct, reading.lat, reading.lon) == (3.0, 90, 44.9, -63.5)


def test_epoch_seconds_are_seconds_even_when_large():
    epoch = NOW.timestamp() - 60
    (reading,) = decode(sample(ts=epoch)).readings
    assert reading.time == NOW - timedelta(seconds=60)


def test_a_batch_keeps_its_good_samples_and_names_the_bad_one():
    batch = [sample(ts="2026-11-10T11:00:00Z"), sample(ts="2026-11-10T11:01:00Z", temp_c=95),
             sample(ts="2026-11-10T11:02:00Z")]
    decoded = decode(batch)
    assert [r.time.minute for r in decoded.readings] == [0, 2]
    (letter,) = decoded.refused
    assert letter.errors[0].index == 1 and letter.errors[0].field == "temp_c"
    assert letter.reason.startswith("[1].temp_c")


def test_rules_of_the_contract_each_refused_with_the_field():
    cases = {
        "lat": sample(lat=44.0),  # lat without lon
        "ts": sample(ts="2026-11-10T11:00:00"),  # no offset
        "device_id": sample(device_id="TRK-2"),  # not the topic's device
        "humidity_pct": sample(humidity_pct=101),
        "battery_pct": sample(battery_pct=-1),
        "seq": sample(seq=-3),
    }
    for field, payload in cases.items():
        decoded = decode(payload)
        assert decoded.readings == [], field
        assert field in decoded.refused[0].reason or field in str(decoded.refused[0].errors), field


def test_a_sample_needs_temperature_or_position():
    decoded = decode({"device_id": "TRK-1", "ts": "2026-11-10T11:00:00Z", "humidity_pct": 80})
    assert decoded.readings == [] and "temp_c or lat+lon" in decoded.refused[0].reason


def test_clock_faults_are_refused():
    assert decode(sample(ts=0)).refused[0].errors[0].rule == "before_2000"
    future = (NOW + timedelta(hours=2)).isoformat()
    assert decode(sample(ts=future)).refused[0].errors[0].rule == "in_future"


def test_not_json_not_utf8_and_wrong_shapes():
    assert decode(b"\xff\xfe").refused[0].errors[0].rule == "invalid_utf8"
    assert decode(b"{").refused[0].errors[0].rule == "invalid_json"
    assert decode(b"NaN").refused[0].errors[0].rule == "non_finite"
    assert decode([]).refused[0].errors[0].rule == "not_sample"
    assert decode(42).refused[0].errors[0].rule == "not_sample"


def test_unknown_topics_are_refused_not_raised():
    assert decode(sample(), "coldchain/v1/devices/TRK-1/other").refused[0].errors[0].rule == "topic"
    assert decode(sample(), "coldchain/v1/devices/bad id/telemetry").refused[0].errors[0].rule == "pattern"


def test_senml_records_with_one_time_form_one_sample():
    base = NOW.timestamp() - 120
    pack = [
        {"bn": "urn:dev:mac:TRK-1:", "bt": base, "n": "temp", "u": "Cel", "v": 2.5},
        {"n": "humidity", "u": "%RH", "v": 88},
        {"n": "lat", "u": "lat", "v": 44.9}, {"n": "lon", "u": "lon", "v": -63.5},
        {"n": "temp", "u": "Cel", "v": 2.7, "t": 60},
    ]
    decoded = decode(pack, SENML)
    assert decoded.refused == []
    first, second = sorted(decoded.readings, key=lambda r: r.time)
    assert (first.temp_c, first.humidity_pct, first.lat, first.lon) == (2.5, 88, 44.9, -63.5)
    assert second.temp_c == 2.7 and second.time - first.time == timedelta(seconds=60)
    assert {r.source for r in decoded.readings} == {"senml"}


def test_senml_wrong_unit_and_relative_time_are_refused():
    base = NOW.timestamp()
    decoded = decode([{"bt": base, "n": "temp", "u": "Far", "v": 40}], SENML)
    assert decoded.readings == [] and decoded.refused[0].errors[0].rule == "unit"
    decoded = decode([{"n": "temp", "u": "Cel", "v": 3, "t": -5}], SENML)
    assert decoded.refused[0].errors[0].rule == "relative_time"


def test_dead_letters_keep_the_original_bytes_and_have_stable_ids():
    import base64

    raw = b'{"device_id": "TRK-1", "ts": 5}'
    first, again = (decode_message(TOPIC, raw, NOW).refused[0] for _ in range(2))
    assert base64.b64decode(first.payload_b64) == raw
    assert first.id == again.id


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
near_valid = st.fixed_dictionaries(
    {"device_id": st.sampled_from(["TRK-1", "TRK-2", "", "x" * 70]),
     "ts": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(), st.text(max_size=30),
                     st.sampled_from(["2026-11-10T11:00:00Z", "2026-11-10T11:00:00", "2026-13-10T11:00:00Z"]))},
    optional={"temp_c": json_values | st.floats(-100, 100), "lat": st.floats(-100, 100),
              "lon": st.floats(-200, 200), "humidity_pct": json_values, "seq": json_values,
              "battery_pct": json_values, "speed_kmh": json_values},
)


def _accounted_for(decoded, payload_items: int | None) -> None:
    assert decoded.readings or decoded.refused
    for letter in decoded.refused:
        assert letter.reason and letter.errors
    if payload_items is not None:
        refused_indexes = {e.index for letter in decoded.refused for e in letter.errors}
        assert len(decoded.readings) + len(refused_indexes) == payload_items


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(raw):
    for topic in (TOPIC, SENML):
        _accounted_for(decode_message(topic, raw, NOW), None)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_never_raises(value):
    for topic in (TOPIC, SENML):
        _accounted_for(decode_message(topic, json.dumps(value).encode(), NOW), None)


@settings(max_examples=400, deadline=None)
@given(st.lists(near_valid, min_size=1, max_size=6), st.randoms())
def test_near_valid_batches_account_for_every_element(batch, rnd: random.Random):
    rnd.shuffle(batch)
    decoded = decode_message(TOPIC, json.dumps(batch).encode(), NOW)
    _accounted_for(decoded, len(batch))
