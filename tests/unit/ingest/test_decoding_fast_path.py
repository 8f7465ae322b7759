"""The all-good fast path of the JSON decoder (issue 22) decides nothing by itself: on any
payload it gives exactly what the exact path gives, or hands the payload to it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.decoding import DECODERS, JsonTelemetryDecoder, _all_good, decode_message

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
DEVICE = "TRK-1"
TOPIC = f"coldchain/v1/devices/{DEVICE}/telemetry"
EXACT = JsonTelemetryDecoder()

numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70),
                    st.sampled_from([3.0, 4.5, -1.0, 91.5, 44.9, -63.5, 0, 100, 101, -61, 81]))
values = st.one_of(numbers, st.none(), st.booleans(), st.text(max_size=8), st.just("2026-11-10T11:00:00Z"))
times = st.one_of(st.integers(NOW.timestamp().__int__() - 86400 * 3, NOW.timestamp().__int__() + 1200),
                  st.sampled_from(["2026-11-10T11:00:00Z", "2026-11-10T11:00:00+08:00", "1999-12-31T23:59:59Z",
                                   "2026-11-10 11:00:00Z", "yesterday"]), numbers)
samples = st.fixed_dictionaries(
    {"device_id": st.sampled_from([DEVICE, DEVICE, DEVICE, "TRK-2", ""]), "ts": times},
    optional={"seq": st.one_of(st.integers(-1, 2**64), values), "temp_c": numbers, "humidity_pct": numbers,
              "lat": numbers, "lon": numbers, "speed_kmh": numbers, "battery_pct": numbers,
              "note": st.one_of(values, st.lists(values, max_size=2), st.dictionaries(st.text(max_size=3), values,
                                                                                      max_size=2))},
)
documents = st.one_of(samples, st.lists(samples, max_size=6))


def _text(document: object) -> bytes:
    # Python's json writes NaN and Infinity as its own (non-JSON) literals: the decoder must refuse them.
    return json.dumps(document, separators=(",", ":")).encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_fast_path_agrees_with_the_exact_path(document: object) -> None:
    payload = _text(document)
    exact = EXACT.decode_exactly(TOPIC, DEVICE, payload, NOW)
    fast = _all_good(payload, DEVICE, NOW)
    if fast is not None:
        assert not exact.refused, f"the fast path accepted what the exact path refuses: {exact.refused}"
        assert fast == exact.readings
    assert decode_message(TOPIC, payload, NOW) == exact


def test_a_plain_backlog_takes_the_fast_path() -> None:
    backlog = [{"device_id": DEVICE, "ts": NOW.timestamp() - 7200 + 60 * i, "seq": i, "temp_c": 3.5,
                "lat": 44.9, "lon": -63.5} for i in range(100)]
    fast = _all_good(_text(backlog), DEVICE, NOW)
    assert fast is not None and len(fast) == 100
    assert [r.seq for r in fast] == list(range(100))
    assert fast == EXACT.decode_exactly(TOPIC, DEVICE, _text(backlog), NOW).readings


def test_anything_unusual_goes_the_exact_way() -> None:
    good = {"device_id": DEVICE, "ts": "2026-11-10T11:00:00Z", "temp_c": 3.0}
    unusual = [
        _text([good, {**good, "note": {"nested": [1]}}]),  # nesting beyond a flat batch
        _text({**good, "note": "NaN"}),  # the word alone is enough to look closer
        json.dumps({**good, "note": "é"}, ensure_ascii=False).encode(),  # not plain ASCII
        _text([]),
        b'{"device_id":"TRK-1","ts":"2026-11-10T11:00:00Z","temp_c":3.0,"x":NaN}',
    ]
    for payload in unusual:
        assert _all_good(payload, DEVICE, NOW) is None, payload
    assert DECODERS["telemetry"].decode(TOPIC, DEVICE, unusual[-1], NOW).refused[0].errors[0].rule == "non_finite"
