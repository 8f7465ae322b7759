"""Payload decoders: bytes from one MQTT topic -> readings and refusals. Pure: no I/O.

Every input ends as accepted readings, refused parts with a reason, or both; a decoder never
raises. A batch keeps its good samples when some of its elements are bad. The refusals of
one message are one dead letter, bounded (schemas/deadletter.py), listing each bad sample's
index and reason.

Bounds, each refused with its own rule:

- the payload: ``MAX_PAYLOAD_BYTES``, nesting ``MAX_DEPTH``, no NaN/Infinity, integers of at
  most ``MAX_INT_DIGITS`` digits (services/ingest/bounded_json.py) -- refused whole;
- a batch: ``MAX_BATCH_SAMPLES`` samples; a SenML pack: ``MAX_SENML_RECORDS`` records and
  ``MAX_BATCH_SAMPLES`` resolved times -- refused whole;
- a sample: the contract's ranges, finite numbers, ``seq`` a bigint (schemas/common.py), ``ts``
  from ``EARLIEST_SAMPLE`` to ``MAX_CLOCK_LEAD`` after receipt -- refused alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import msgspec
from pydantic import TypeAdapter, ValidationError

from schemas.common import is_device_id
from schemas.deadletter import MAX_ERRORS, DeadLetter, FieldError, bounded_dead_letter
from schemas.reading import Reading
from schemas.reading_wire import WireId, WireLat, WireLon, WirePercent, WireReading, WireSeq, WireSpeed, WireTemp
from schemas.telemetry import MAX_BATCH_SAMPLES, MAX_SENML_RECORDS, DeviceSample, SenMLBase, SenMLRecord
from services.ingest.bounded_json import MAX_INT_DIGITS, MAX_PAYLOAD_BYTES, load_json

EARLIEST_SAMPLE = datetime(2000, 1, 1, tzinfo=UTC)  # before this, the tracker's clock was never set
# Trackers set their clocks from GPS or the network: one further ahead than this is faulty, and
# a reading from the future would hold an excursion or an ETA open until that time.
MAX_CLOCK_LEAD = timedelta(minutes=10)
STAGE = "ingest"


@dataclass(frozen=True)
class Decoded:
    # WireReading: from the all-good msgspec path, equal in value to the exact path's Reading.
    readings: list[Reading] | list[WireReading] = field(default_factory=list)
    refused: list[DeadLetter] = field(default_factory=list)  # at most one: this message's


class Decoder(Protocol):
    def decode(self, topic: str, device_id: str, payload: bytes, received_at: datetime) -> Decoded: ...


def decode_message(topic: str, payload: bytes, received_at: datetime) -> Decoded:
    """Routes ``coldchain/v1/devices/{device_id}/{kind}`` to its decoder. ``received_at`` is the
    time ingest received the message (aware, UTC): clock checks are relative to it."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[:3] != ["coldchain", "v1", "devices"] or parts[4] not in DECODERS:
        return _refuse_whole(topic, None, payload, received_at, _whole("topic", f"unknown topic {topic!r}"))
    device_id = parts[3]
    if not is_device_id(device_id):
        return _refuse_whole(topic, None, payload, received_at, FieldError(
            field="device_id", rule="pattern", message=f"topic device id {device_id!r} is not 1-64 of [A-Za-z0-9_.-]"))
    try:
        return DECODERS[parts[4]].decode(topic, device_id, payload, received_at)
    except Exception as exc:  # a decoder bug must refuse one message, not stop ingest
        return _refuse_whole(topic, device_id, payload, received_at,
                             _whole("decoder_error", f"the decoder failed: {type(exc).__name__}: {exc}"))


class _Refusals:
    """The errors of one message, as its letter lists them: one of each refused part (sample,
    record) first. Only the first ``MAX_ERRORS`` refused parts can be listed, so only theirs are
    kept and later parts' errors are counted (building 45,000 errors for a batch of 5,000 bad
    samples was most of its decoding time)."""

    def __init__(self) -> None:
        self.kept: list[FieldError] = []
        self.counted = 0
        self._parts: set[int | None] = set()

    def any(self) -> bool:
        return bool(self.kept)

    def add(self, *errors: FieldError) -> None:
        for error in errors:
            if self._keeps(error.index):
                self.kept.append(error)
            else:
                self.counted += 1

    def add_invalid(self, exc: ValidationError, index: int | None) -> None:
        if self._keeps(index):
            self.kept.extend(_field_errors(exc, index))
        else:
            self.counted += exc.error_count()

    def listing(self) -> list[FieldError]:
        seen: set[int | None] = set()
        first: list[FieldError] = []
        rest: list[FieldError] = []
        for error in self.kept:
            (rest if error.index in seen else first).append(error)
            seen.add(error.index)
        return first + rest

    def _keeps(self, index: int | None) -> bool:
        if index not in self._parts and len(self._parts) < MAX_ERRORS:
            self._parts.add(index)
        return index in self._parts


def _whole(rule: str, message: str) -> FieldError:
    return FieldError(field="", rule=rule, message=message)


def _refuse_whole(topic: str, device_id: str | None, payload: bytes, received_at: datetime,
                  error: FieldError) -> Decoded:
    refusals = _Refusals()
    refusals.add(error)
    return _finish(topic, device_id, payload, received_at, [], refusals)


def _finish(topic: str, device_id: str | None, payload: bytes, received_at: datetime,
            readings: list[Reading], refusals: _Refusals) -> Decoded:
    if not refusals.any():
        return Decoded(readings=readings)
    letter = bounded_dead_letter(stage=STAGE, topic=topic, payload=payload, errors=refusals.listing(),
                                 more_errors=refusals.counted, received_at=received_at, device_id=device_id)
    return Decoded(readings=readings, refused=[letter])


def refusal(topic: str, payload: bytes, received_at: datetime, rule: str, message: str) -> DeadLetter:
    """A dead letter for a payload refused whole by a later stage of ingest (not the decoder)."""
    return refusals(topic, payload, received_at, [_whole(rule, message)])


def refusals(topic: str, payload: bytes, received_at: datetime, errors: list[FieldError]) -> DeadLetter:
    """A dead letter for samples of a decoded payload that a later stage of ingest refused
    (the binding: a sealed shipment); the payload's good samples went on."""
    parts = topic.split("/")
    return bounded_dead_letter(stage=STAGE, topic=topic, payload=payload, errors=errors,
                               received_at=received_at, device_id=parts[3] if len(parts) > 3 else None)


def _field_errors(exc: ValidationError, index: int | None) -> list[FieldError]:
    return [FieldError(index=index, field=".".join(str(part) for part in error["loc"]),
                       rule=str(error["type"]), message=str(error["msg"]))
            for error in exc.errors(include_url=False, include_input=False)]


def _time_errors(sample: DeviceSample, received_at: datetime, index: int | None) -> list[FieldError]:
    if sample.ts < EARLIEST_SAMPLE:
        return [FieldError(index=index, field="ts", rule="before_2000",
                           message=f"{sample.ts.isoformat()} is before 2000: the device clock is not set")]
    if sample.ts > received_at + MAX_CLOCK_LEAD:
        minutes = int(MAX_CLOCK_LEAD.total_seconds() // 60)
        return [FieldError(index=index, field="ts", rule="in_future",
                           message=f"{sample.ts.isoformat()} is more than {minutes} min after receipt")]
    return []


_READINGS: TypeAdapter[list[Reading]] = TypeAdapter(list[Reading])


def _to_readings(samples: Sequence[DeviceSample], received_at: datetime, source: str) -> list[Reading]:
    """Many samples at once: one validation call for the list costs less than a model each."""
    extra = {"received_at": received_at, "source": source}
    return _READINGS.validate_python([{**sample.__dict__, "time": sample.ts, **extra} for sample in samples])


def _validate_samples(items: Sequence[tuple[int | None, Any]], device_id: str, received_at: datetime,
                      source: str, refusals: _Refusals) -> list[Reading]:
    good: list[DeviceSample] = []
    for index, item in items:
        try:
            sample = DeviceSample.model_validate(item)
        except ValidationError as exc:
            refusals.add_invalid(exc, index)
            continue
        if sample.device_id != device_id:
            refusals.add(FieldError(index=index, field="device_id", rule="topic_mismatch",
                                    message=f"{sample.device_id!r} does not match the topic's {device_id!r}"))
            continue
        late_or_early = _time_errors(sample, received_at, index)
        if late_or_early:
            refusals.add(*late_or_early)
            continue
        good.append(sample)
    return _to_readings(good, received_at, source)


_JSON_KINDS: Mapping[type, str] = {
    dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
    bool: "a boolean", type(None): "null",
}


def _kind(document: Any) -> str:
    if document == []:
        return "an empty array"
    return _JSON_KINDS.get(type(document), type(document).__name__)


_SAMPLES: TypeAdapter[list[DeviceSample] | DeviceSample] = TypeAdapter(list[DeviceSample] | DeviceSample)


def _plain(payload: bytes) -> bool:
    """A payload the fast paths may parse: within size, plain ASCII (no UTF-8 question), no
    ``NaN`` or ``Infinity`` anywhere (their parsers skip them in unknown fields, the exact path
    refuses them)."""
    return len(payload) <= MAX_PAYLOAD_BYTES and payload.isascii() and b"NaN" not in payload \
        and b"Infinity" not in payload


def _flat(payload: bytes, samples: Sequence[object], batch: bool) -> bool:
    """Parsed as a batch (or one sample) of at most ``MAX_BATCH_SAMPLES``, with exactly one
    object per sample and at most one array: nothing nested (the exact path's depth bound)."""
    return 0 < len(samples) <= MAX_BATCH_SAMPLES and payload.count(b"[") == int(batch) \
        and payload.count(b"{") == len(samples)


def _all_good(payload: bytes, device_id: str, received_at: datetime) -> list[Reading] | None:
    """The readings of a payload with nothing wrong in it, parsed and validated in one pass
    (pydantic's JSON parser, no Python object per value); ``None`` as soon as anything is
    unusual, and the exact path below decides. A landed backlog is almost always all good, and
    this path reads it at ~3 µs a sample instead of ~17.

    It only accepts what the exact path accepts: plain ASCII (no UTF-8 question), no ``NaN``
    or ``Infinity`` anywhere (pydantic reads them in unknown fields, the exact path refuses
    them), exactly one object per sample and at most one array (so the nesting is 2), the
    parser's own integer limit below ``MAX_INT_DIGITS``, and every sample's device and time
    in bounds (tests/unit/ingest check both paths agree on generated payloads).
    """
    if not _plain(payload):
        return None
    try:
        document = _SAMPLES.validate_json(payload)
    except ValidationError:
        return None
    samples = document if isinstance(document, list) else [document]
    if not _flat(payload, samples, isinstance(document, list)):
        return None
    latest = received_at + MAX_CLOCK_LEAD
    if any(s.device_id != device_id or not EARLIEST_SAMPLE <= s.ts <= latest for s in samples):
        return None
    return _to_readings(samples, received_at, "json")


class _WireSample(msgspec.Struct, frozen=True, gc=False):
    """A ``DeviceSample`` as msgspec reads it, with reading_wire's bounds (the same as the
    contract's: strict finite numbers in range, ``seq`` a bigint, the device id pattern).
    ``ts`` is read as JSON gives it and checked after (``_sample_time``); the model rules
    (``_position_and_content``) by ``_content``. Unknown fields are skipped."""

    device_id: WireId
    ts: int | float | str  # int apart from float: epoch seconds as the exact path reads them
    seq: WireSeq | None = None
    temp_c: WireTemp | None = None
    humidity_pct: WirePercent | None = None
    lat: WireLat | None = None
    lon: WireLon | None = None
    speed_kmh: WireSpeed | None = None
    battery_pct: WirePercent | None = None


_WIRE_SAMPLES = msgspec.json.Decoder(list[_WireSample] | _WireSample)
# msgspec skips an unknown field's integer of any length, which the exact path refuses whole
# (MAX_INT_DIGITS): any digit run that long, even in a string or a fraction, goes the exact way.
# Every digit made a "0", the run is a substring search (a regex for it cost as much as msgspec's
# whole decode).
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * (MAX_INT_DIGITS + 1)
# Narrower than the contract's RFC 3339 (schemas/common.py) where datetime.fromisoformat and
# pydantic could differ: ASCII digits only, at most 6 fraction digits (pydantic truncates more),
# an upper-case "Z" (fromisoformat refuses "z"), an offset's minutes below 60 (fromisoformat
# reads "+00:60" as an hour, pydantic refuses it).
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
                      r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])")


def _sample_time(ts: int | float | str) -> datetime | None:
    """``ts`` as ``UtcDatetime`` makes it, or ``None`` for any other form or a time that fails."""
    try:
        if isinstance(ts, str):
            return datetime.fromisoformat(ts).astimezone(UTC) if _RFC3339.fullmatch(ts) else None
        return datetime.fromtimestamp(ts, UTC)  # as _epoch_seconds_or_rfc3339 does
    except (OverflowError, OSError, ValueError):
        return None


def _content(sample: _WireSample) -> bool:
    """``DeviceSample``'s model rules: lat and lon together, and temp_c or a position."""
    return (sample.lat is None) == (sample.lon is None) and (sample.temp_c is not None or sample.lat is not None)


def _wire_readings(payload: bytes, device_id: str, received_at: datetime) -> list[WireReading] | None:
    """The readings of a payload with nothing wrong in it, as msgspec structs; ``None`` as soon
    as anything is unusual, and ``_all_good`` then the exact path decide. Narrower than both
    (tests/unit/ingest compare it with the exact path on generated payloads). A landed backlog
    is read in about a third of ``_all_good``'s time, and no pydantic model is made per reading
    (bench/hot_paths.py, ingest)."""
    if not _plain(payload) or _LONG_DIGITS in payload.translate(_DIGITS_TO_ZERO):
        return None
    try:
        document = _WIRE_SAMPLES.decode(payload)
    except (msgspec.DecodeError, RecursionError):  # deep nesting in an unknown field: msgspec recurses
        return None
    samples = document if isinstance(document, list) else [document]
    if not _flat(payload, samples, isinstance(document, list)):
        return None
    latest = received_at + MAX_CLOCK_LEAD
    readings = []
    for sample in samples:
        time = _sample_time(sample.ts)
        if time is None or not EARLIEST_SAMPLE <= time <= latest or sample.device_id != device_id \
                or not _content(sample):
            return None
        readings.append(WireReading(
            time=time, device_id=device_id, seq=sample.seq, temp_c=sample.temp_c, humidity_pct=sample.humidity_pct,
            lat=sample.lat, lon=sample.lon, speed_kmh=sample.speed_kmh, battery_pct=sample.battery_pct,
            source="json", received_at=received_at))
    return readings


class JsonTelemetryDecoder:
    """``.../telemetry``: one sample object, or an array of them (store-and-forward)."""

    def decode(self, topic: str, device_id: str, payload: bytes, received_at: datetime) -> Decoded:
        wire = _wire_readings(payload, device_id, received_at)
        if wire is not None:
            return Decoded(readings=wire)
        good = _all_good(payload, device_id, received_at)
        if good is not None:
            return Decoded(readings=good)
        return self.decode_exactly(topic, device_id, payload, received_at)

    def decode_exactly(self, topic: str, device_id: str, payload: bytes, received_at: datetime) -> Decoded:
        """Every payload, good or bad, each refused part with its reason."""
        document, error = load_json(payload)
        if error is not None:
            return _refuse_whole(topic, device_id, payload, received_at, error)
        if isinstance(document, dict):
            items: list[tuple[int | None, Any]] = [(None, document)]
        elif isinstance(document, list) and document:
            if len(document) > MAX_BATCH_SAMPLES:
                return _refuse_whole(topic, device_id, payload, received_at, _whole(
                    "batch_too_long", f"a batch of {len(document)} samples is over the {MAX_BATCH_SAMPLES} limit"))
            items = list(enumerate(document))
        else:
            return _refuse_whole(topic, device_id, payload, received_at, _whole(
                "not_sample", f"expected a sample object or an array of them, got {_kind(document)}"))
        refusals = _Refusals()
        readings = _validate_samples(items, device_id, received_at, "json", refusals)
        return _finish(topic, device_id, payload, received_at, readings, refusals)


SENML_FIELDS: Mapping[str, tuple[str, frozenset[str]]] = {
    "temp": ("temp_c", frozenset({"Cel"})),
    "humidity": ("humidity_pct", frozenset({"%RH"})),
    "lat": ("lat", frozenset({"lat"})),
    "lon": ("lon", frozenset({"lon"})),
    "speed": ("speed_kmh", frozenset({"km/h"})),
    "battery": ("battery_pct", frozenset({"%EL"})),
}
SENML_RELATIVE_LIMIT = 2**28  # RFC 8428: a smaller time is relative to "now"


@dataclass
class _Grouped:
    """A pack's known records by resolved time: each sample with its first record's index."""

    samples: dict[float, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    bad_times: set[float] = field(default_factory=set)  # a time with a bad record is no sample
    refusals: _Refusals = field(default_factory=_Refusals)


class SenmlDecoder:
    """``.../senml``: a SenML pack (RFC 8428); records with the same resolved time form one
    sample. Base name may carry the device id (``urn:dev:...:TRK-0001:`` or ``TRK-0001/``).

    A bad record refuses the sample of its time, as a bad field refuses a JSON sample; a bad
    base value (``bt``, ``bu``) refuses every record from it on, since none of them resolves.
    Records of unknown names are ignored, like unknown JSON fields.
    """

    def decode(self, topic: str, device_id: str, payload: bytes, received_at: datetime) -> Decoded:
        document, error = load_json(payload)
        if error is None:
            error = self._pack_problem(document)
        if error is not None:
            return _refuse_whole(topic, device_id, payload, received_at, error)
        grouped = self._group(document, device_id)
        for when in grouped.bad_times:
            grouped.samples.pop(when, None)
        if len(grouped.samples) > MAX_BATCH_SAMPLES:
            return _refuse_whole(topic, device_id, payload, received_at, _whole(
                "pack_too_long", f"a pack of {len(grouped.samples)} samples is over the {MAX_BATCH_SAMPLES} limit"))
        if not grouped.samples and not grouped.refusals.any():
            grouped.refusals.add(_whole("no_known_records", f"no record named {', '.join(SENML_FIELDS)}"))
        items = [(index, sample) for _, (index, sample) in sorted(grouped.samples.items())]
        readings = _validate_samples(items, device_id, received_at, "senml", grouped.refusals)
        return _finish(topic, device_id, payload, received_at, readings, grouped.refusals)

    @staticmethod
    def _pack_problem(document: Any) -> FieldError | None:
        if not isinstance(document, list) or not document:
            return _whole("not_pack", f"expected a SenML pack (a non-empty array of records), got {_kind(document)}")
        if len(document) > MAX_SENML_RECORDS:
            return _whole("pack_too_long", f"a pack of {len(document)} records is over the {MAX_SENML_RECORDS} limit")
        return None

    def _group(self, records: list[Any], device_id: str) -> _Grouped:
        grouped = _Grouped()
        base = SenMLBase(bt=0.0)
        for index, item in enumerate(records):
            fields = item if isinstance(item, dict) else {}
            if "bt" in fields or "bu" in fields:  # most records carry no base value: skip the check
                try:
                    base = _resolve_base(base, fields)
                except ValidationError as exc:
                    grouped.refusals.add_invalid(exc, index)
                    grouped.refusals.add(FieldError(index=index, field="", rule="base_unresolved", message=(
                        f"records [{index}] to [{len(records) - 1}] are refused: their base time or unit is invalid")))
                    return grouped
            name = _known_name(fields.get("n"))
            if name is not None:
                self._add(grouped, index, fields, name, base, device_id)
        return grouped

    def _add(self, grouped: _Grouped, index: int, fields: dict[str, Any], name: str,
             base: SenMLBase, device_id: str) -> None:
        base_time = base.bt or 0.0
        try:
            record = SenMLRecord.model_validate(fields)
        except ValidationError as exc:
            grouped.refusals.add_invalid(exc, index)
            offset = fields.get("t", 0.0)
            if _is_finite_number(offset):  # its time is known: the sample of that time is bad too
                grouped.bad_times.add(base_time + offset)
            return
        target, units = SENML_FIELDS[name]
        when = base_time + (record.t or 0.0)
        problem = _record_problem(record.v, record.u or base.bu, units, when)
        if problem:
            grouped.refusals.add(FieldError(index=index, field=name, rule=problem[0], message=problem[1]))
            grouped.bad_times.add(when)
            return
        grouped.samples.setdefault(when, (index, {"device_id": device_id, "ts": when}))[1][target] = record.v


def _resolve_base(base: SenMLBase, fields: dict[str, Any]) -> SenMLBase:
    given = SenMLBase.model_validate({key: fields[key] for key in ("bt", "bu") if key in fields})
    return SenMLBase(bt=base.bt if given.bt is None else given.bt, bu=base.bu if given.bu is None else given.bu)


def _known_name(name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    short = name.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    return short if short in SENML_FIELDS else None


def _is_finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return abs(value) < 1e300  # compared exactly: a 4,000-digit int must not be made a float (OverflowError)


def _record_problem(
    value: float | None, unit: str | None, units: frozenset[str], when: float
) -> tuple[str, str] | None:
    if value is None:
        return ("missing_value", "record has no numeric value 'v'")
    if unit not in units:
        return ("unit", f"unit {unit!r} is not {'/'.join(sorted(units))}")
    if abs(when) < SENML_RELATIVE_LIMIT:
        return ("relative_time", "time is relative to 'now' (RFC 8428); trackers must send absolute times")
    return None


DECODERS: Mapping[str, Decoder] = {"telemetry": JsonTelemetryDecoder(), "senml": SenmlDecoder()}
