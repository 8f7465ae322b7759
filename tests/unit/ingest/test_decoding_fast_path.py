"""The fast paths of the JSON decoder (issue 22) decide nothing by themselves: on any payload
each gives exactly what the exact path gives (equal values), or hands the payload on. msgspec's
(``_wire_readings``) first, then pydantic's (``_all_good``), then the exact path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.loadgen import sample_text
from schemas.common import BIGINT_MAX
from schemas.reading import ReadingBatch
from schemas.reading_wire import WireReading, decode_readings
from schemas.topics import READINGS
from services.ingest.bounded_json import MAX_INT_DIGITS
from services.ingest.bridge import IngestBridge
from services.ingest.decoding import (
    DECODERS,
    EARLIEST_SAMPLE,
    MAX_CLOCK_LEAD,
    Decoded,
    JsonTelemetryDecoder,
    _all_good,
    _wire_readings,
    decode_message,
)
from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings
from services.registry.bindings import Binding

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DEVICE = "TRK-1"
TOPIC = f"coldchain/v1/devices/{DEVICE}/telemetry"
EXACT = JsonTelemetryDecoder()
FIELDS = ("time", "device_id", "shipment_id", "seq", "temp_c", "humidity_pct", "lat", "lon", "speed_kmh",
          "battery_pct", "received_at", "source")

# Raw JSON that json.dumps cannot write, put in place of these strings by _text: an integer one
# digit over the exact path's limit (refused whole), one at it (accepted), an infinity-to-be.
RAW = {'"@HUGE@"': "9" * (MAX_INT_DIGITS + 1), '"@BIG@"': "-" + "9" * MAX_INT_DIGITS, '"@E999@"': "1e999"}

numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70),
                    st.sampled_from([3.0, 4.5, -1.0, 91.5, 44.9, -63.5, 0, -0.0, 100, 101, -61, 81, 80, -60, 90.0,
                                     -90, 180, -180.0, 180.5, 2000, 2000.0001, 100.00000000000001, "@E999@"]))
values = st.one_of(numbers, st.none(), st.booleans(), st.text(max_size=8), st.just("2026-11-10T11:00:00Z"),
                   st.sampled_from(["@HUGE@", "@BIG@", "3.5"]))
EPOCH_NOW = int(NOW.timestamp())
epochs = st.one_of(st.integers(EPOCH_NOW - 86400 * 3, EPOCH_NOW + 1200),
                   st.floats(EPOCH_NOW - 86400.0, EPOCH_NOW + 900.0),
                   st.sampled_from([EARLIEST_SAMPLE.timestamp(), EARLIEST_SAMPLE.timestamp() - 1e-6,
                                    (NOW + MAX_CLOCK_LEAD).timestamp(), (NOW + MAX_CLOCK_LEAD).timestamp() + 1e-6,
                                    int(EARLIEST_SAMPLE.timestamp()) - 1, 2**70, 1e20, -1.5, "@HUGE@", "@E999@"]))


@st.composite
def rfc3339(draw: st.DrawFn, good: bool = False) -> str:
    """A time as a tracker might write it: any offset (and some impossible), 0 to 7 fraction
    digits, "T", "t" or a space, "Z", "z", an offset or none. ``good``: one in bounds that the
    msgspec path reads (at most 6 digits, "Z" or an offset)."""
    earliest, latest = (EARLIEST_SAMPLE, NOW + MAX_CLOCK_LEAD) if good else (EARLIEST_SAMPLE - HOUR, NOW + HOUR)
    at = draw(st.datetimes(earliest.replace(tzinfo=None), latest.replace(tzinfo=None)))
    minutes = draw(st.integers(-1439, 1439))
    local = at + timedelta(minutes=minutes)
    digits = draw(st.integers(0, 6 if good else 7))
    fraction = f"{local.microsecond:06d}{draw(st.integers(0, 9))}"[:digits]
    if digits < 6:  # the instant drawn, truncated to the digits written, stays in bounds
        local = local.replace(microsecond=0)
    sign, offset = "-" if minutes < 0 else "+", abs(minutes)
    zone = f"{sign}{offset // 60:02d}:{offset % 60:02d}"
    if draw(st.booleans()):
        zone, local = draw(st.sampled_from(["Z", "-00:00"] if good else ["Z", "z", "", "+00:60", "+24:00"])), at
    text = local.strftime(f"%Y-%m-%d{draw(st.sampled_from('Tt '))}%H:%M:%S") + (f".{fraction}" if digits else "")
    return text + zone


times = st.one_of(epochs, rfc3339(), numbers, st.booleans(), st.none(), st.sampled_from([
    "2026-11-10T11:00:00Z", "2026-11-10T11:00:00+08:00", "1999-12-31T23:59:59Z", "2026-11-10 11:00:00Z", "yesterday",
    "2026-11-10T24:00:00Z", "2026-02-29T11:00:00Z", "2026-11-10T11:00:00.1234567Z", "\u0662026-11-10T11:00:00Z",
    "2026-11-10T12:10:00Z", "2026-11-10T12:10:00.000001Z", "2000-01-01T00:00:00Z", "2000-01-01T00:30:00+00:31",
    str(EPOCH_NOW), "2026-11-10T11:00:00Z\n"]))
samples = st.fixed_dictionaries(
    {"device_id": st.sampled_from([DEVICE, DEVICE, DEVICE, "TRK-2", "", "TRK-1\n", "trk-1"]), "ts": times},
    optional={"seq": st.one_of(st.integers(-1, 2**64), st.sampled_from([BIGINT_MAX, BIGINT_MAX + 1, 3.0]), values),
              "temp_c": numbers, "humidity_pct": numbers, "lat": numbers, "lon": numbers, "speed_kmh": numbers,
              "battery_pct": numbers,
              "note": st.one_of(values, st.lists(values, max_size=2), st.dictionaries(st.text(max_size=3), values,
                                                                                      max_size=2))},
)

# Samples the msgspec path must take (when all of a payload's are like these).
finite = {"allow_nan": False}
good_samples = st.fixed_dictionaries(
    {"device_id": st.just(DEVICE), "ts": st.one_of(st.integers(EPOCH_NOW - 86400 * 3, EPOCH_NOW + 600),
                                                   st.floats(EPOCH_NOW - 86400.0, EPOCH_NOW + 600.0),
                                                   rfc3339(good=True)),
     "temp_c": st.one_of(st.floats(-60, 80, **finite), st.integers(-60, 80))},
    optional={"seq": st.integers(0, BIGINT_MAX), "humidity_pct": st.floats(0, 100, **finite),
              "speed_kmh": st.floats(0, 2000, **finite), "battery_pct": st.none() | st.floats(0, 100, **finite),
              "note": st.one_of(st.integers(-(10**40), 10**40), st.text("abc xyz-:0123", max_size=8),
                                st.just("@BIG@"))},
)


@st.composite
def nearly_good(draw: st.DrawFn) -> dict[str, Any]:
    """A good sample with one field drawn from the hostile ones (or dropped): the borderline."""
    name = draw(st.sampled_from(["device_id", "ts", "seq", "temp_c", "humidity_pct", "lat", "lon", "speed_kmh",
                                 "battery_pct", "note"]))
    sample = draw(good_samples)
    if draw(st.integers(0, 9)) == 0:
        return {key: value for key, value in sample.items() if key != name}
    return {**sample, name: draw(times if name == "ts" else values)}


documents = st.one_of(samples, st.lists(samples, max_size=6),
                      st.lists(st.one_of(good_samples, nearly_good()), min_size=1, max_size=4))


def _text(document: object) -> bytes:
    # Python's json writes NaN and Infinity as its own (non-JSON) literals: the decoder must refuse them.
    text = json.dumps(document, separators=(",", ":"))
    for marker, raw in RAW.items():
        text = text.replace(marker, raw)
    return text.encode()


def values_of(readings: list[Any]) -> list[tuple[Any, ...]]:
    """What a reading is, whichever kind: its fields, and its time's offset (UTC, always)."""
    return [(*(getattr(r, name) for name in FIELDS), r.time.utcoffset()) for r in readings]


def _same(decoded: Decoded, exact: Decoded) -> bool:
    return decoded.refused == exact.refused and values_of(decoded.readings) == values_of(exact.readings)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_the_fast_paths_agree_with_the_exact_path(document: object) -> None:
    payload = _text(document)
    exact = EXACT.decode_exactly(TOPIC, DEVICE, payload, NOW)
    for fast_path in (_wire_readings, _all_good):
        fast = fast_path(payload, DEVICE, NOW)
        if fast is not None:
            assert not exact.refused, f"{fast_path.__name__} accepted what the exact path refuses: {exact.refused}"
            assert values_of(fast) == values_of(exact.readings), fast_path.__name__
    assert _same(decode_message(TOPIC, payload, NOW), exact)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(good_samples, st.lists(good_samples, min_size=1, max_size=6)))
def test_good_samples_take_the_msgspec_path(document: object) -> None:
    payload = _text(document)
    fast = _wire_readings(payload, DEVICE, NOW)
    assert fast is not None and all(isinstance(r, WireReading) for r in fast)
    assert values_of(fast) == values_of(EXACT.decode_exactly(TOPIC, DEVICE, payload, NOW).readings)


def test_a_plain_backlog_takes_the_fast_path() -> None:
    backlog = [{"device_id": DEVICE, "ts": NOW.timestamp() - 7200 + 60 * i, "seq": i, "temp_c": 3.5,
                "lat": 44.9, "lon": -63.5} for i in range(100)]
    fast = _all_good(_text(backlog), DEVICE, NOW)
    assert fast is not None and len(fast) == 100
    assert [r.seq for r in fast] == list(range(100))
    assert fast == EXACT.decode_exactly(TOPIC, DEVICE, _text(backlog), NOW).readings


def test_the_bench_publishers_messages_take_the_msgspec_path() -> None:
    payload = f"[{','.join(sample_text(DEVICE, NOW.timestamp() - 7200 + 60 * i, i) for i in range(100))}]".encode()
    fast = _wire_readings(payload, DEVICE, NOW)
    assert fast is not None and [r.seq for r in fast] == list(range(100))
    assert values_of(fast) == values_of(EXACT.decode_exactly(TOPIC, DEVICE, payload, NOW).readings)


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
        assert _wire_readings(payload, DEVICE, NOW) is None, payload
    assert DECODERS["telemetry"].decode(TOPIC, DEVICE, unusual[-1], NOW).refused[0].errors[0].rule == "non_finite"


def test_what_msgspec_would_read_otherwise_is_left_to_the_other_paths() -> None:
    good = {"device_id": DEVICE, "ts": "2026-11-10T11:00:00Z", "temp_c": 3.0}
    left = {
        "a huge integer it would skip": _text({**good, "note": "@HUGE@"}),
        "a 7-digit fraction it would round": _text({**good, "ts": "2026-11-10T11:00:00.1234567Z"}),
        "a lower-case z": _text({**good, "ts": "2026-11-10T11:00:00z"}),
        "an offset of 60 minutes": _text({**good, "ts": "2026-11-10T11:00:00+00:60"}),
        "no offset": _text({**good, "ts": "2026-11-10T11:00:00"}),
        "deep nesting it would recurse into": b'{"device_id":"TRK-1","ts":1,"x":' + b"[" * 100_000 + b"]" * 100_000
                                              + b"}",
    }
    for why, payload in left.items():
        assert _wire_readings(payload, DEVICE, NOW) is None, why
        assert _same(decode_message(TOPIC, payload, NOW), EXACT.decode_exactly(TOPIC, DEVICE, payload, NOW)), why
    assert decode_message(TOPIC, left["a huge integer it would skip"], NOW).refused[0].errors[0].rule == \
        "number_too_long"


def test_a_repeated_field_is_its_last_value_or_left_to_the_exact_path() -> None:
    # json.loads keeps the last value; msgspec too, but checks each: a bad first one is left over
    last = b'{"device_id":"TRK-1","ts":"2026-11-10T11:00:00Z","temp_c":2.0,"temp_c":3.0}'
    fast = _wire_readings(last, DEVICE, NOW)
    assert fast is not None and fast[0].temp_c == 3.0
    assert values_of(fast) == values_of(EXACT.decode_exactly(TOPIC, DEVICE, last, NOW).readings)
    assert _wire_readings(last.replace(b"2.0", b"300"), DEVICE, NOW) is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(good_samples, min_size=1, max_size=6))
def test_a_fast_path_messages_record_is_the_exact_readings_bound(document: list[dict[str, Any]]) -> None:
    payload = _text(document)
    assert _wire_readings(payload, DEVICE, NOW) is not None
    bridge = IngestBridge(IngestSettings(), lambda device, at: Binding(shipment_id="SHP-1"), IngestMetrics())
    (record,) = bridge._records(TOPIC, payload, NOW)
    assert record.topic == READINGS.name and record.key == "SHP-1"
    bound = [r.model_copy(update={"shipment_id": "SHP-1"})
             for r in EXACT.decode_exactly(TOPIC, DEVICE, payload, NOW).readings]
    assert values_of(ReadingBatch.model_validate_json(record.value).readings) == values_of(bound)
    wire = decode_readings(record.value)
    assert all(isinstance(r, WireReading) for r in wire) and values_of(wire) == values_of(bound)
