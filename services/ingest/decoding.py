"""Payload decoders: bytes from one MQTT topic -> readings and refusals. Pure: no I/O.

Every input ends as accepted readings, refused parts with a reason, or both; a decoder never
raises. A batch keeps its good samples when some of its elements are bad.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from schemas.common import is_device_id
from schemas.deadletter import DeadLetter, FieldError
from schemas.reading import Reading
from schemas.telemetry import DeviceSample, SenMLPack

EARLIEST_SAMPLE = datetime(2000, 1, 1, tzinfo=UTC)  # before this, the tracker's clock was never set
MAX_CLOCK_LEAD = timedelta(hours=1)  # a sample further in the future than this is a clock fault
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Decoded:
    readings: list[Reading] = field(default_factory=list)
    refused: list[DeadLetter] = field(default_factory=list)


class Decoder(Protocol):
    def decode(self, topic: str, device_id: str, payload: bytes, received_at: datetime) -> Decoded: ...


def _dead_letter(topic: str, payload: bytes, received_at: datetime, errors: list[FieldError]) -> DeadLetter:
    digest = hashlib.sha256(topic.encode() + b"\0" + payload)
    digest.update(json.dumps([e.model_dump() for e in errors], sort_keys=True).encode())
    first = errors[0]
    where = f"[{first.index}]" if first.index is not None else ""
    reason = f"{where}{'.' if where and first.field else ''}{first.field}: {first.message}".lstrip(":")
    if len(errors) > 1:
        reason += f" (+{len(errors) - 1} more)"
    return DeadLetter(
        id=digest.hexdigest()[:32],
        received_at=received_at,
        mqtt_topic=topic,
        payload_b64=base64.b64encode(payload).decode(),
        reason=reason.strip(),
        errors=errors,
    )


def refusal(topic: str, payload: bytes, received_at: datetime, rule: str, message: str) -> DeadLetter:
    """A dead letter for a payload refused whole by a later stage of ingest (not the decoder)."""
    return _dead_letter(topic, payload, received_at, [FieldError(field="", rule=rule, message=message)])


def _field_errors(exc: ValidationError, index: int | None) -> list[FieldError]:
    found = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"])
        found.append(FieldError(index=index, field=loc, rule=str(error["type"]), message=message))
    return found


def _time_errors(sample: DeviceSample, received_at: datetime, index: int | None) -> list[FieldError]:
    if sample.ts < EARLIEST_SAMPLE:
        return [FieldError(index=index, field="ts", rule="before_2000",
                           message=f"{sample.ts.isoformat()} is before 2000: the device clock is not set")]
    if sample.ts > received_at + MAX_CLOCK_LEAD:
        return [FieldError(index=index, field="ts", rule="in_future",
                           message=f"{sample.ts.isoformat()} is more than 1 h after receipt")]
    return []


def _to_reading(sample: DeviceSample, received_at: datetime, source: str) -> Reading:
    return Reading(
        device_id=sample.device_id,
        time=sample.ts,
        seq=sample.seq,
        temp_c=sample.temp_c,
        humidity_pct=sample.humidity_pct,
        lat=sample.lat,
        lon=sample.lon,
        speed_kmh=sample.speed_kmh,
        battery_pct=sample.battery_pct,
        received_at=received_at,
        source=source,  # type: ignore[arg-type]
    )


def _validate_samples(
    items: Sequence[tuple[int | None, Any]], device_id: str, received_at: datetime, source: str
) -> tuple[list[Reading], list[FieldError]]:
    readings: list[Reading] = []
    errors: list[FieldError] = []
    for index, item in items:
        try:
            sample = DeviceSample.model_validate(item)
        except ValidationError as exc:
            errors.extend(_field_errors(exc, index))
            continue
        if sample.device_id != device_id:
            errors.append(FieldError(index=index, field="device_id", rule="topic_mismatch",
                                     message=f"{sample.device_id!r} does not match the topic's {device_id!r}"))
            continue
        late_or_early = _time_errors(sample, received_at, index)
        if late_or_early:
            errors.extend(late_or_early)
            continue
        readings.append(_to_reading(sample, received_at, source))
    return readings, errors


def _load_json(payload: bytes) -> tuple[Any, FieldError | None]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None, FieldError(field="", rule="too_large", message=f"payload over {MAX_PAYLOAD_BYTES} bytes")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, FieldError(field="", rule="invalid_utf8", message=f"not UTF-8: {exc.reason} at byte {exc.start}")
    try:
        return json.loads(text, parse_constant=_refuse_constant), None
    except (ValueError, RecursionError) as exc:
        return None, FieldError(field="", rule="invalid_json", message=f"not JSON: {exc}")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finish(topic: str, payload: bytes, received_at: datetime,
            readings: list[Reading], errors: list[FieldError]) -> Decoded:
    refused = [_dead_letter(topic, payload, received_at, errors)] if errors else []
    return Decoded(readings=readings, refused=refused)


class JsonTelemetryDecoder:
    """``.../telemetry``: one sample object, or an array of them (store-and-forward)."""

    def decode(self, topic: str, device_id: str, payload: bytes, received_at: datetime) -> Decoded:
        document, error = _load_json(payload)
        if error is not None:
            return _finish(topic, payload, received_at, [], [error])
        if isinstance(document, dict):
            items: list[tuple[int | None, Any]] = [(None, document)]
        elif isinstance(document, list) and document:
            items = list(enumerate(document))
        else:
            kind = "an empty array" if document == [] else type(document).__name__
            return _finish(topic, payload, received_at, [], [FieldError(
                field="", rule="not_sample", message=f"expected a sample object or an array of them, got {kind}")])
        readings, errors = _validate_samples(items, device_id, received_at, "json")
        return _finish(topic, payload, received_at, readings, errors)


SENML_FIELDS: Mapping[str, tuple[str, frozenset[str]]] = {
    "temp": ("temp_c", frozenset({"Cel"})),
    "humidity": ("humidity_pct", frozenset({"%RH"})),
    "lat": ("lat", frozenset({"lat"})),
    "lon": ("lon", frozenset({"lon"})),
    "speed": ("speed_kmh", frozenset({"km/h"})),
    "battery": ("battery_pct", frozenset({"%EL"})),
}
SENML_RELATIVE_LIMIT = 2**28  # RFC 8428: a smaller time is relative to "now"


class SenmlDecoder:
    """``.../senml``: a SenML pack (RFC 8428); records with the same resolved time form one
    sample. Base name may carry the device id (``urn:dev:...:TRK-0001:`` or ``TRK-0001/``)."""

    def decode(self, topic: str, device_id: str, payload: bytes, received_at: datetime) -> Decoded:
        document, error = _load_json(payload)
        if error is not None:
            return _finish(topic, payload, received_at, [], [error])
        try:
            pack = SenMLPack.model_validate(document)
        except ValidationError as exc:
            return _finish(topic, payload, received_at, [], _field_errors(exc, None))
        samples, errors = self._group(pack, device_id)
        if not samples and not errors:
            errors = [FieldError(field="", rule="no_known_records",
                                 message=f"no record named {', '.join(SENML_FIELDS)}")]
        readings, sample_errors = _validate_samples(list(samples.items()), device_id, received_at, "senml")
        return _finish(topic, payload, received_at, readings, errors + sample_errors)

    def _group(self, pack: SenMLPack, device_id: str) -> tuple[dict[int | None, dict[str, Any]], list[FieldError]]:
        samples: dict[float, dict[str, Any]] = {}
        errors: list[FieldError] = []
        base_time = 0.0
        base_unit: str | None = None
        for index, record in enumerate(pack.root):
            base_time = record.bt if record.bt is not None else base_time
            base_unit = record.bu if record.bu is not None else base_unit
            name = (record.n or "").rsplit(":", 1)[-1].rsplit("/", 1)[-1]
            if name not in SENML_FIELDS:
                continue  # unknown names are ignored, like unknown JSON fields
            target, units = SENML_FIELDS[name]
            unit = record.u or base_unit
            when = base_time + (record.t or 0.0)
            problem = self._record_problem(record.v, unit, units, when)
            if problem:
                errors.append(FieldError(index=index, field=name, rule=problem[0], message=problem[1]))
                continue
            samples.setdefault(when, {"device_id": device_id, "ts": when})[target] = record.v
        ordered: dict[int | None, dict[str, Any]] = {i: s for i, (_, s) in enumerate(sorted(samples.items()))}
        return ordered, errors

    @staticmethod
    def _record_problem(
        value: float | None, unit: str | None, units: frozenset[str], when: float
    ) -> tuple[str, str] | None:
        if value is None or not math.isfinite(value):
            return ("missing_value", "record has no numeric value 'v'")
        if unit not in units:
            return ("unit", f"unit {unit!r} is not {'/'.join(sorted(units))}")
        if abs(when) < SENML_RELATIVE_LIMIT:
            return ("relative_time", "time is relative to 'now' (RFC 8428); trackers must send absolute times")
        return None


DECODERS: Mapping[str, Decoder] = {"telemetry": JsonTelemetryDecoder(), "senml": SenmlDecoder()}


def decode_message(topic: str, payload: bytes, received_at: datetime) -> Decoded:
    """Routes ``coldchain/v1/devices/{device_id}/{kind}`` to its decoder."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[:3] != ["coldchain", "v1", "devices"] or parts[4] not in DECODERS:
        return _finish(topic, payload, received_at, [], [FieldError(
            field="", rule="topic", message=f"unknown topic {topic!r}")])
    device_id = parts[3]
    if not is_device_id(device_id):
        return _finish(topic, payload, received_at, [], [FieldError(
            field="device_id", rule="pattern", message=f"topic device id {device_id!r} is not 1-64 of [A-Za-z0-9_.-]")])
    return DECODERS[parts[4]].decode(topic, device_id, payload, received_at)
