"""A refused payload, kept with the reason (topic ``coldchain.deadletter``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int | None = None  # position in a batch, None for a single object
    field: str  # dotted path, e.g. "temp_c"; "" for the whole payload
    rule: str  # machine-readable, e.g. "less_than_equal", "invalid_json"
    message: str


class DeadLetter(BaseModel):
    """The original bytes (base64) and why they, or part of them, were refused."""

    model_config = ConfigDict(frozen=True)

    id: str  # deterministic: hash of topic + payload + index
    received_at: datetime
    mqtt_topic: str
    payload_b64: str
    reason: str  # one line, human readable
    errors: list[FieldError]
