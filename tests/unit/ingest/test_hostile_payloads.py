"""Hostile payloads through the decoder (issue 18): nothing escapes it, good samples are kept,
and what is refused is one dead letter under the byte limit."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.common import BIGINT_MAX
from schemas.deadletter import MAX_DEAD_LETTER_BYTES, MAX_ERRORS, DeadLetter, serialized_size
from schemas.telemetry import MAX_BATCH_SAMPLES
from services.ingest import decoding
from services.ingest.bounded_json import MAX_PAYLOAD_BYTES
from services.ingest.decoding import EARLIEST_SAMPLE, MAX_CLOCK_LEAD, Decoded, decode_message

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
DEVICE = "TRK-1"
TOPIC = f"coldchain/v1/devices/{DEVICE}/telemetry"
SENML = f"coldchain/v1/devices/{DEVICE}/senml"
HOUR_AGO = NOW.timestamp() - 3600


def sample(**fields: object) -> dict[str, object]:
    return {"device_id": DEVICE, "ts": "2026-11-10T11:00:00Z", "temp_c": 3.0, **fields}


def raw(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def with_field(name: str, literal: bytes) -> bytes:
    """A sample with one field written as raw JSON text (NaN, 1e999, huge numbers)."""
    return b'{"device_id":"TRK-1","ts":"2026-11-10T11:00:00Z","temp_c":3.0,"' + name.encode() + b'":' + literal + b"}"


def decode(payload: bytes, topic: str = TOPIC) -> Decoded:
    decoded = decode_message(topic, payload, NOW)
    assert_bounded(decoded, payload)
    return decoded


def assert_bounded(decoded: Decoded, payload: bytes) -> None:
    assert decoded.readings or decoded.refused
    assert len(decoded.refused) <= 1  # one message, at most one letter
    for letter in decoded.refused:
        assert serialized_size(letter) <= MAX_DEAD_LETTER_BYTES
        assert letter.reason and 1 <= len(letter.errors) <= MAX_ERRORS
        assert letter.stage == "ingest" and letter.payload_size == len(payload)
        assert letter.payload_sha256 == hashlib.sha256(payload).hexdigest()
        assert all(e.rule != "decoder_error" for e in letter.errors), letter.reason  # each case has its rule
        assert DeadLetter.model_validate_json(letter.model_dump_json()) == letter


def refused_whole(decoded: Decoded) -> str:
    """The rule of a payload refused as a whole: no reading, one letter, one error."""
    assert decoded.readings == []
    (letter,) = decoded.refused
    (error,) = letter.errors
    assert error.index is None and letter.errors_omitted == 0
    return error.rule


def refused_rules(decoded: Decoded) -> set[tuple[str, str]]:
    return {(e.field, e.rule) for letter in decoded.refused for e in letter.errors}


# -- refused whole -------------------------------------------------------------------------

@pytest.mark.parametrize(("payload", "rule"), [
    (b"[" + b",".join([b"{}"] * 10_000) + b"]", "batch_too_long"),
    (b"[" * 100_000 + b"]" * 100_000, "too_deep"),
    (b'{"device_id":"TRK-1","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "too_deep"),
    (with_field("temp_c", b"NaN"), "non_finite"),
    (with_field("extra", b"Infinity"), "non_finite"),
    (raw(sample(note="x" * 10_000_000)), "too_large"),
    (raw([sample(ts=HOUR_AGO + i) for i in range(100_000)]), "too_large"),
    (raw([0] * 100_000), "batch_too_long"),
    (with_field("seq", b"9" * 100_000), "number_too_long"),
    (b'{"device_id":"TRK-1","ts":' + b"1" * 100_000 + b',"temp_c":3}', "number_too_long"),
    (b"", "empty"),
    (b"null", "not_sample"),
    (b'"a string"', "not_sample"),
    (b"[]", "not_sample"),
    (b"42", "not_sample"),
    (b'{"device_id":"TRK-1\xff\xfe"}', "invalid_utf8"),
    (b"\xc3\x28", "invalid_utf8"),
    (b'{"device_id":', "invalid_json"),
], ids=["10k-empty-objects", "depth-100k", "depth-100k-in-a-field", "nan", "infinity-in-unknown-field",
        "10mb-string", "100k-sample-batch", "100k-element-batch", "100k-digit-seq", "100k-digit-ts", "empty",
        "null", "string", "empty-array", "number", "invalid-utf8-in-string", "invalid-utf8", "truncated"])
def test_hostile_telemetry_is_refused_whole_with_its_rule(payload, rule):
    assert refused_whole(decode(payload)) == rule


@pytest.mark.parametrize(("payload", "rule"), [
    (raw([{"bt": HOUR_AGO, "n": "temp", "u": "Cel", "v": 3}]
         + [{"n": "temp", "u": "Cel", "v": 3, "t": i} for i in range(1, 100_000)]), "too_large"),
    (raw([{}] * 100_000), "pack_too_long"),
    (raw([{"bt": HOUR_AGO, "n": "temp", "u": "Cel", "v": 3}]
         + [{"n": "temp", "u": "Cel", "v": 3, "t": i} for i in range(1, MAX_BATCH_SAMPLES + 1)]), "pack_too_long"),
    (b"{}", "not_pack"),
    (b"[]", "not_pack"),
    (b"null", "not_pack"),
    (b'[{"n":"temp","v":NaN}]', "non_finite"),
    (b"[" * 100_000, "too_deep"),
], ids=["100k-records", "100k-empty-records", "one-sample-too-many", "object", "empty", "null", "nan", "deep"])
def test_hostile_senml_is_refused_whole_with_its_rule(payload, rule):
    assert refused_whole(decode(payload, SENML)) == rule


def test_a_payload_at_the_size_limit_is_read_and_one_byte_over_is_not():
    filler = MAX_PAYLOAD_BYTES - len(raw(sample(note="")))
    (reading,) = decode(raw(sample(note="x" * filler))).readings
    assert reading.temp_c == 3.0
    assert refused_whole(decode(raw(sample(note="x" * (filler + 1))))) == "too_large"


def test_a_whole_refusal_keeps_the_start_of_the_payload_and_names_the_rest():
    payload = raw(sample(note="x" * 2_000_000))
    (letter,) = decode(payload).refused
    assert letter.payload_size == len(payload) and len(letter.payload_b64) < 3000
    assert letter.device_id == DEVICE and letter.mqtt_topic == TOPIC


# -- refused sample by sample --------------------------------------------------------------

@pytest.mark.parametrize(("payload", "field", "rule"), [
    (raw(sample(seq=2**63)), "seq", "less_than_equal"),
    (raw(sample(seq=10**4000)), "seq", "less_than_equal"),
    (with_field("temp_c", b"1e999"), "temp_c", "finite_number"),
    (with_field("speed_kmh", b"1e999"), "speed_kmh", "finite_number"),
    (raw(sample(speed_kmh=5000)), "speed_kmh", "less_than_equal"),
    (raw(sample(temp_c="3.5")), "temp_c", "float_type"),  # a string is not a number
    (raw(sample(battery_pct=True)), "battery_pct", "float_type"),
    (raw(sample(ts="9999-12-31T23:59:59Z")), "ts", "in_future"),
    (raw(sample(ts=(NOW + MAX_CLOCK_LEAD + timedelta(seconds=1)).isoformat())), "ts", "in_future"),
    (raw(sample(ts=1e300)), "ts", "value_error"),
    (raw(sample(ts=10**4000)), "ts", "value_error"),  # not even printed: past int_max_str_digits
    (raw(sample(ts="1999-12-31T23:59:59Z")), "ts", "before_2000"),
    (raw(sample(ts="2026-11-10T11:00:00." + "1" * 100_000 + "Z")), "ts", "value_error"),
    (raw(sample(device_id="x" * 900_000)), "device_id", "string_too_long"),
    (raw({}), "device_id", "missing"),
], ids=["seq-2^63", "seq-4000-digits", "temp-1e999", "speed-1e999", "speed-5000", "temp-string", "battery-true",
        "year-9999", "clock-lead", "epoch-1e300", "epoch-4000-digits", "before-2000", "ts-100k-fraction",
        "900kb-device-id", "empty-object"])
def test_hostile_values_refuse_their_sample_with_the_field(payload, field, rule):
    decoded = decode(payload)
    assert decoded.readings == []
    assert (field, rule) in refused_rules(decoded)


def test_bounds_are_inclusive_where_a_value_still_fits():
    (reading,) = decode(raw(sample(seq=BIGINT_MAX, speed_kmh=2000, ts=(NOW + MAX_CLOCK_LEAD).isoformat()))).readings
    assert reading.seq == BIGINT_MAX and reading.time == NOW + MAX_CLOCK_LEAD
    (early,) = decode(raw(sample(ts=EARLIEST_SAMPLE.isoformat()))).readings
    assert early.time == EARLIEST_SAMPLE


def test_unknown_fields_are_ignored_however_hostile():
    for payload in (with_field("extra", b"1e999"), with_field("extra", b"9" * 4000),
                    raw(sample(extra={"a": [[[[["deep enough"]]]]]})), raw(sample(extra="\ud800")),
                    raw(sample(extra="x" * 500_000))):
        (reading,) = decode(payload).readings
        assert reading.temp_c == 3.0


def test_a_batch_keeps_its_good_samples_and_names_each_bad_one():
    batch = [sample(ts=HOUR_AGO + i) for i in range(6)]
    batch[1]["seq"] = 2**63
    batch[3]["temp_c"] = None  # and no position: no content
    batch[4] = {}
    payload = raw(batch).replace(b'"seq":9223372036854775808', b'"seq":9223372036854775808,"humidity_pct":1e999')
    decoded = decode(payload)
    assert [r.time.timestamp() - HOUR_AGO for r in decoded.readings] == [0, 2, 5]
    (letter,) = decoded.refused
    assert {e.index for e in letter.errors} == {1, 3, 4}
    assert letter.reason.startswith("[1].")


def test_thousands_of_bad_samples_are_one_letter_naming_the_first_twenty():
    batch = [sample(ts=HOUR_AGO - i) for i in range(MAX_BATCH_SAMPLES)]
    for i in range(0, MAX_BATCH_SAMPLES, 2):
        batch[i] = {"device_id": DEVICE}  # ts missing, and no content
    decoded = decode(raw(batch))
    assert len(decoded.readings) == MAX_BATCH_SAMPLES // 2
    (letter,) = decoded.refused
    assert [e.index for e in letter.errors] == list(range(0, 2 * MAX_ERRORS, 2))  # one of each sample first
    assert letter.errors_omitted == MAX_BATCH_SAMPLES // 2 - MAX_ERRORS


def test_a_full_batch_of_empty_objects_is_one_bounded_letter():
    payload = raw([{}] * MAX_BATCH_SAMPLES)
    (letter,) = decode(payload).refused
    assert len(letter.errors) + letter.errors_omitted == 2 * MAX_BATCH_SAMPLES  # device_id and ts each


def test_a_topic_of_any_length_or_content_is_refused_bounded():
    for topic in ("coldchain/v1/devices/" + "x" * 70_000 + "/telemetry", "a" * 65_535,
                  "coldchain/v1/devices/\ud800/senml", "coldchain/v1/devices//telemetry", ""):
        (letter,) = decode(raw(sample()), topic).refused
        assert letter.errors[0].rule in {"topic", "pattern"} and letter.device_id is None


# -- SenML -----------------------------------------------------------------------------------

def test_senml_relative_times_are_refused_with_the_reason():
    for pack in ([{"n": "temp", "u": "Cel", "v": 3, "t": -5}], [{"bt": 1000, "n": "temp", "u": "Cel", "v": 3}],
                 [{"n": "temp", "u": "Cel", "v": 3}]):
        decoded = decode(raw(pack), SENML)
        assert decoded.readings == [] and ("temp", "relative_time") in refused_rules(decoded)


def test_senml_a_bad_record_refuses_its_sample_and_keeps_the_others():
    pack = [
        {"bt": HOUR_AGO, "n": "temp", "u": "Cel", "v": "cold"},  # refuses the sample at +0 ...
        {"n": "lat", "u": "lat", "v": 44.9}, {"n": "lon", "u": "lon", "v": -63.5},  # ... with its position
        {"n": "temp", "u": "Cel", "v": 2.7, "t": 60},
        {"n": "temp", "u": "Cel", "v": float("inf"), "t": 120},  # written 1e999 below
        {"n": "temp", "u": "Cel", "v": 95, "t": 180},  # out of range: refused by the sample rules
        {"n": "pressure", "v": "whatever", "t": 60},  # an unknown name is ignored, however bad
    ]
    decoded = decode(raw(pack).replace(b"Infinity", b"1e999"), SENML)
    assert [(r.time.timestamp() - HOUR_AGO, r.temp_c) for r in decoded.readings] == [(60, 2.7)]
    (letter,) = decoded.refused
    assert {e.index for e in letter.errors} == {0, 4, 5}


def test_senml_a_bad_base_time_refuses_the_records_after_it():
    pack = [
        {"bt": HOUR_AGO, "n": "temp", "u": "Cel", "v": 2.5},
        {"bt": "later", "n": "temp", "u": "Cel", "v": 2.6},
        {"n": "temp", "u": "Cel", "v": 2.7, "t": 60},
    ]
    decoded = decode(raw(pack), SENML)
    assert [r.temp_c for r in decoded.readings] == [2.5]
    assert ("", "base_unresolved") in refused_rules(decoded)


def test_senml_overlong_names_and_units_are_refused_not_stored():
    decoded = decode(raw([{"bt": HOUR_AGO, "n": "temp", "u": "C" * 1_000_000, "v": 3}]), SENML)
    assert decoded.readings == [] and ("u", "string_too_long") in refused_rules(decoded)


# -- anything at all ---------------------------------------------------------------------------

# JSON text built as bytes, so it can hold what json.dumps would never write: NaN, 1e999,
# integers past int64 and past CPython's digit limit, lone surrogates, deep nesting.
atoms = st.sampled_from([
    b"null", b"true", b"0", b"-1", b"3.5", b"1e999", b"-1e999", b"NaN", b"9223372036854775808",
    b"9" * 5000, b'"\\ud800"', b'"2026-11-10T11:00:00Z"', b'"TRK-1"', b'""', b"1793000000", b"[" * 40 + b"]" * 40,
]) | st.integers().map(lambda i: str(i).encode()) | st.floats(allow_nan=False).map(lambda f: repr(f).encode())
keys = st.sampled_from([b"device_id", b"ts", b"seq", b"temp_c", b"humidity_pct", b"lat", b"lon", b"speed_kmh",
                        b"battery_pct", b"bt", b"bu", b"n", b"u", b"v", b"t", b"x"])
json_text = st.recursive(
    atoms,
    lambda inner: st.lists(inner, max_size=5).map(lambda items: b"[" + b",".join(items) + b"]")
    | st.lists(st.tuples(keys, inner), max_size=6).map(
        lambda pairs: b"{" + b",".join(b'"' + k + b'":' + v for k, v in pairs) + b"}"),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(json_text)
def test_any_json_text_is_decoded_or_refused_bounded(payload):
    for topic in (TOPIC, SENML):
        assert_bounded(decode_message(topic, payload, NOW), payload)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000) | st.tuples(st.binary(min_size=1, max_size=4), st.integers(1, 400_000)).map(
    lambda t: t[0] * t[1]))
def test_any_bytes_are_decoded_or_refused_bounded(payload):
    for topic in (TOPIC, SENML):
        assert_bounded(decode_message(topic, payload, NOW), payload)


def test_a_decoder_bug_refuses_its_message_instead_of_stopping_ingest(monkeypatch):
    class Broken:
        def decode(self, *args: object) -> Decoded:
            raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setitem(decoding.DECODERS, "telemetry", Broken())
    (letter,) = decode_message(TOPIC, raw(sample()), NOW).refused
    assert letter.errors[0].rule == "decoder_error" and "RecursionError" in letter.reason
