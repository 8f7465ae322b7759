"""Reads simulator payloads back the way the contract defines them (JSON samples, SenML)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from schemas.telemetry import DeviceSample, SenMLPack

SENML_NAMES = {
    "temp": "temp_c",
    "humidity": "humidity_pct",
    "lat": "lat",
    "lon": "lon",
    "speed": "speed_kmh",
    "battery": "battery_pct",
}


def topic_device(topic: str) -> str:
    return topic.split("/")[3]


def decode(topic: str, payload: bytes) -> list[DeviceSample]:
    """The samples of one message; raises ValueError (or ValidationError) if it is broken."""
    device_id = topic_device(topic)
    document = json.loads(payload)
    if topic.endswith("/senml"):
        items = _senml_samples(document, device_id)
    else:
        items = document if isinstance(document, list) else [document]
    samples = [DeviceSample.model_validate(item) for item in items]
    if any(sample.device_id != device_id for sample in samples):
        raise ValueError("device_id does not match the topic")
    return samples


def _senml_samples(document: Any, device_id: str) -> list[dict[str, Any]]:
    pack = SenMLPack.model_validate(document)
    grouped: dict[float, dict[str, Any]] = defaultdict(dict)
    base_time = 0.0
    for record in pack.root:
        base_time = record.bt if record.bt is not None else base_time
        when = base_time + (record.t or 0.0)
        grouped[when][SENML_NAMES[record.n or ""]] = record.v
    return [{"device_id": device_id, "ts": when, **fields} for when, fields in grouped.items()]
