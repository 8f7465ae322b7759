"""A refused payload, kept with the reason (topic ``coldchain.deadletter``).

A dead letter is built by ``bounded_dead_letter`` only: whatever it is given (a 10 MB payload,
10,000 errors, a 64 KB topic), the record it returns serializes to at most
``MAX_DEAD_LETTER_BYTES``, so it always fits in a Kafka record (the broker's limit is ~1 MB).
It keeps an excerpt of the payload with the whole payload's size and SHA-256, and the first
``MAX_ERRORS`` errors with a count of the rest.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from schemas.common import is_device_id

MAX_DEAD_LETTER_BYTES = 64 * 1024  # one record, serialized as JSON (what goes on Kafka)
PAYLOAD_EXCERPT_BYTES = 2048  # enough to read a sample or two; size and SHA-256 name the rest
MAX_ERRORS = 20
MAX_MESSAGE_CHARS = 300
MAX_FIELD_CHARS = 120
MAX_RULE_CHARS = 64
MAX_REASON_CHARS = 300
MAX_TOPIC_CHARS = 256  # coldchain's own topics are under 100; MQTT allows 65,535 bytes
MAX_STAGE_CHARS = 32
MAX_INDEX = 2**63 - 1  # a position in a payload; a larger one is no position, and would print long


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int | None = None  # position in a batch (a SenML record's position), None for a single object
    field: str  # dotted path, e.g. "temp_c"; "" for the whole payload
    rule: str  # machine-readable, e.g. "less_than_equal", "invalid_json"
    message: str


class DeadLetter(BaseModel):
    """An excerpt of the refused bytes (base64) and why they, or part of them, were refused.

    Fields after ``errors`` were added with the bounds; their defaults let records written
    before decode (those carry the whole payload in ``payload_b64``).
    """

    model_config = ConfigDict(frozen=True)

    id: str  # deterministic: hash of stage + topic + payload + errors, so a redelivery is one letter
    received_at: datetime
    mqtt_topic: str  # where the payload came from: the MQTT topic at ingest, the Kafka topic after
    payload_b64: str  # the first PAYLOAD_EXCERPT_BYTES bytes of the payload
    reason: str  # one line, human readable
    errors: list[FieldError]  # the first MAX_ERRORS
    stage: str = "ingest"  # which service refused it: ingest, sink, excursions, alerts, ...
    device_id: str | None = None  # when known and well-formed
    payload_size: int | None = None  # bytes of the whole payload; None on letters from before the bounds
    payload_sha256: str | None = None  # hex digest of the whole payload
    errors_omitted: int = 0  # errors beyond those listed


def bounded_dead_letter(
    *,
    stage: str,
    topic: str,
    payload: bytes,
    errors: Sequence[FieldError],
    received_at: datetime,
    device_id: str | None = None,
    more_errors: int = 0,
) -> DeadLetter:
    """The dead letter for ``payload``, never over ``MAX_DEAD_LETTER_BYTES`` serialized.

    ``errors`` are listed in their order up to ``MAX_ERRORS``; ``more_errors`` are errors the
    caller only counted (a caller refusing thousands of parts need not build them all)."""
    total = len(errors) + max(more_errors, 0)
    listed = [_clipped(e) for e in errors[:MAX_ERRORS]] or [
        FieldError(field="", rule="unspecified", message="refused without a reason")]
    sha256 = hashlib.sha256(payload)
    letter = DeadLetter(
        id=_letter_id(stage, topic, sha256.digest(), errors, total),
        received_at=received_at,
        mqtt_topic=_clip(topic, MAX_TOPIC_CHARS),
        payload_b64=base64.b64encode(payload[:PAYLOAD_EXCERPT_BYTES]).decode(),
        reason=_reason(listed[0], max(total, 1)),
        errors=listed,
        stage=_clip(stage, MAX_STAGE_CHARS),
        device_id=device_id if device_id is not None and is_device_id(device_id) else None,
        payload_size=len(payload),
        payload_sha256=sha256.hexdigest(),
        errors_omitted=max(total - len(listed), 0),
    )
    return _within_limit(letter)


def serialized_size(letter: DeadLetter) -> int:
    """Bytes of the record as it goes on Kafka."""
    return len(letter.model_dump_json().encode())


def _within_limit(letter: DeadLetter, limit: int = MAX_DEAD_LETTER_BYTES) -> DeadLetter:
    # The clips make 20 errors fit (~65,300 bytes at worst, when every character is a control
    # character JSON escapes to six bytes); should a later field or limit break that sum, errors
    # go to the omitted count, the first one last. One alone is always far below the limit.
    while serialized_size(letter) > limit and len(letter.errors) > 1:
        letter = letter.model_copy(update={"errors": letter.errors[:-1], "errors_omitted": letter.errors_omitted + 1})
    return letter


def _clip(text: str, limit: int) -> str:
    # Clip first, then replace lone surrogates (JSON "\ud800" decodes to one): a string holding
    # one cannot be encoded as UTF-8, so the letter could not be serialized at all.
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return short.encode("utf-8", "replace").decode("utf-8")


def _clipped(error: FieldError) -> FieldError:
    return FieldError(index=_index(error), field=_clip(error.field, MAX_FIELD_CHARS),
                      rule=_clip(error.rule, MAX_RULE_CHARS), message=_clip(error.message, MAX_MESSAGE_CHARS))


def _index(error: FieldError) -> int | None:
    return error.index if error.index is not None and 0 <= error.index <= MAX_INDEX else None


def _reason(first: FieldError, total: int) -> str:
    where = f"[{first.index}]" if first.index is not None else ""
    head = f"{where}{'.' if where and first.field else ''}{first.field}: {first.message}".lstrip(": ")
    more = f" (+{total - 1} more)" if total > 1 else ""
    head = head.strip() or first.rule.strip() or "refused"
    return _clip(head, MAX_REASON_CHARS - len(more)) + more


def _letter_id(stage: str, topic: str, payload_sha256: bytes, errors: Sequence[FieldError], total: int) -> str:
    # Every error, not only those listed, so two refusals differing late differ; each clipped as
    # listed, so 10,000 errors of a megabyte each cost no more to name than to list.
    named = "\x1e".join(f"{_index(e)}\x1f{e.field[:MAX_FIELD_CHARS]}\x1f{e.rule[:MAX_RULE_CHARS]}"
                         f"\x1f{e.message[:MAX_MESSAGE_CHARS]}" for e in errors)
    digest = hashlib.sha256()
    for part in (stage, topic, named):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(payload_sha256 + str(total).encode())
    return digest.hexdigest()[:32]
