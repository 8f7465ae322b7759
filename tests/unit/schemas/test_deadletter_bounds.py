"""A dead letter never exceeds its byte limit, whatever it is built from, and old ones still decode."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.deadletter import (
    MAX_DEAD_LETTER_BYTES,
    MAX_ERRORS,
    MAX_MESSAGE_CHARS,
    MAX_REASON_CHARS,
    MAX_TOPIC_CHARS,
    PAYLOAD_EXCERPT_BYTES,
    DeadLetter,
    FieldError,
    _within_limit,
    bounded_dead_letter,
    serialized_size,
)

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
TOPIC = "coldchain/v1/devices/TRK-1/telemetry"

# The characters that cost most once serialized: control characters escape to six bytes,
# astral ones take four, a lone surrogate cannot be encoded as UTF-8 at all.
costly = st.sampled_from(["\x00", "\x1f", "\ud800", "\udfff", "😀", "é", '"', "\\", "\u2028", "a"])
chunk = st.text(alphabet=costly | st.characters(), max_size=8)
# Long strings are a short chunk repeated: hypothesis need not draw ten million characters.
hostile_text = st.one_of(chunk, st.tuples(chunk, st.integers(0, 200_000)).map(lambda t: t[0] * t[1]))
hostile_payload = st.one_of(
    st.binary(max_size=4096),
    st.tuples(st.binary(min_size=1, max_size=8), st.integers(0, 10_000_000 // 8)).map(lambda t: t[0] * t[1]),
)
hostile_index = st.none() | st.integers(-(2**70), 2**70) | st.just(10**4000)  # printing 10**4000 is slow
one_error = st.builds(FieldError, index=hostile_index, field=hostile_text, rule=hostile_text, message=hostile_text)
# Up to 10,000 errors: a few drawn ones repeated, so a draw stays quick.
hostile_errors = st.tuples(st.lists(one_error, max_size=5), st.integers(1, 2_000)).map(lambda t: t[0] * t[1])


def build(payload: bytes = b"{}", errors: list[FieldError] | None = None, topic: str = TOPIC,
          stage: str = "ingest", device_id: str | None = "TRK-1") -> DeadLetter:
    if errors is None:
        errors = [FieldError(field="temp_c", rule="less_than_equal", message="Input should be <= 80")]
    return bounded_dead_letter(stage=stage, topic=topic, payload=payload, errors=errors, received_at=NOW,
                               device_id=device_id)


def assert_bounded(letter: DeadLetter, payload: bytes, errors: list[FieldError]) -> None:
    assert serialized_size(letter) <= MAX_DEAD_LETTER_BYTES
    assert 1 <= len(letter.errors) <= MAX_ERRORS
    assert len(letter.errors) + letter.errors_omitted == max(len(errors), 1)
    assert all(len(e.message) <= MAX_MESSAGE_CHARS for e in letter.errors)
    assert len(letter.reason) <= MAX_REASON_CHARS and letter.reason
    assert len(letter.mqtt_topic) <= MAX_TOPIC_CHARS
    # The whole payload is named even though only its start is kept.
    assert base64.b64decode(letter.payload_b64) == payload[:PAYLOAD_EXCERPT_BYTES]
    assert letter.payload_size == len(payload)
    assert letter.payload_sha256 == hashlib.sha256(payload).hexdigest()
    # What the bridge puts on Kafka is what the sink reads back.
    assert DeadLetter.model_validate_json(letter.model_dump_json()) == letter


@settings(max_examples=150, deadline=None)
@given(payload=hostile_payload, errors=hostile_errors, topic=hostile_text, stage=hostile_text,
       device_id=st.none() | hostile_text)
def test_a_dead_letter_is_bounded_whatever_it_is_built_from(payload, errors, topic, stage, device_id):
    letter = build(payload, errors, topic, stage, device_id)
    assert_bounded(letter, payload, errors)
    assert letter.device_id in (None, device_id)


def test_ten_thousand_worst_case_errors_keep_the_first_twenty_and_count_the_rest():
    message = "\x00" * 100_000  # each escapes to six bytes once serialized
    errors = [FieldError(index=i, field="\x01" * 1000, rule="\x02" * 1000, message=message) for i in range(10_000)]
    payload = b"[" + b"{}," * 3_000_000 + b"{}]"
    letter = build(payload, errors, topic="coldchain/v1/devices/" + "\x03" * 70_000 + "/telemetry")
    assert_bounded(letter, payload, errors)
    assert [e.index for e in letter.errors] == list(range(len(letter.errors)))  # the first ones, in order
    assert letter.reason.endswith("(+9999 more)")


def test_errors_that_would_not_fit_go_to_the_omitted_count():
    letter = build(errors=[FieldError(index=i, field="f", rule="r", message="m" * 300) for i in range(20)])
    fitted = _within_limit(letter, limit=4000)
    assert serialized_size(fitted) <= 4000 and 1 <= len(fitted.errors) < 20
    assert len(fitted.errors) + fitted.errors_omitted == 20 and fitted.errors == letter.errors[: len(fitted.errors)]


def test_the_reason_names_the_first_error_and_counts_the_others():
    errors = [FieldError(index=3, field="seq", rule="less_than_equal", message="too big"),
              FieldError(index=5, field="ts", rule="in_future", message="later")]
    assert build(errors=errors).reason == "[3].seq: too big (+1 more)"
    assert build(errors=[FieldError(field="", rule="too_large", message="over")]).reason == "over"
    # Clipped, the count still shows.
    long = build(errors=[FieldError(field="x", rule="r", message="y" * 5000)] * 7).reason
    assert len(long) <= MAX_REASON_CHARS and long.endswith("(+6 more)")


def test_lone_surrogates_are_replaced_so_the_letter_serializes():
    letter = build(errors=[FieldError(field="\ud800", rule="r", message="bad \udfff")], topic="t/\ud800")
    assert "\ud800" not in letter.mqtt_topic and letter.errors[0].message == "bad ?"
    assert serialized_size(letter) < 1024


def test_the_id_is_stable_and_tells_different_refusals_apart():
    assert build(b"x").id == build(b"x").id
    assert len({build(b"x").id, build(b"y").id, build(b"x", stage="sink").id, build(b"x", topic="other").id}) == 4
    # Two refusals that differ only after the listed errors are still two letters.
    same = [FieldError(index=i, field="f", rule="r", message="m") for i in range(30)]
    differ = [*same[:-1], FieldError(index=29, field="f", rule="r", message="other")]
    assert build(errors=same).id != build(errors=differ).id


def test_errors_only_counted_by_the_caller_are_in_the_count_and_the_reason():
    errors = [FieldError(index=i, field="ts", rule="missing", message="Field required") for i in range(3)]
    letter = bounded_dead_letter(stage="ingest", topic=TOPIC, payload=b"[]", errors=errors, received_at=NOW,
                                 more_errors=4_997)
    assert len(letter.errors) == 3 and letter.errors_omitted == 4_997
    assert letter.reason == "[0].ts: Field required (+4999 more)"
    assert letter.id != build(b"[]", errors).id


def test_no_errors_is_still_a_letter_with_a_reason():
    letter = build(errors=[])
    assert letter.errors[0].rule == "unspecified" and letter.errors_omitted == 0 and letter.reason


def test_a_device_id_that_is_not_one_is_left_out():
    assert build(device_id="TRK-1").device_id == "TRK-1"
    assert build(device_id="bad id").device_id is None
    assert build(device_id="x" * 65).device_id is None


def test_a_dead_letter_stored_before_the_bounds_still_decodes():
    old = ('{"id": "abc", "received_at": "2026-11-10T12:00:00Z", "mqtt_topic": "coldchain/v1/devices/TRK-1/telemetry",'
           ' "payload_b64": "e30=", "reason": "ts: Field required",'
           ' "errors": [{"index": null, "field": "ts", "rule": "missing", "message": "Field required"}]}')
    letter = DeadLetter.model_validate_json(old)
    new_fields = (letter.stage, letter.payload_size, letter.payload_sha256, letter.errors_omitted, letter.device_id)
    assert new_fields == ("ingest", None, None, 0, None)
