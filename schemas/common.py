"""Field types shared by several messages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

DEVICE_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN)

DeviceId = Annotated[str, Field(pattern=DEVICE_ID_PATTERN, min_length=1, max_length=64)]
ShipmentId = Annotated[str, Field(pattern=DEVICE_ID_PATTERN, min_length=1, max_length=64)]


def is_device_id(value: str) -> bool:
    return bool(_DEVICE_ID_RE.fullmatch(value))


def _epoch_seconds_or_rfc3339(value: Any) -> Any:
    # Pydantic would read a large number as milliseconds and a digit string as epoch;
    # the contract allows only epoch *seconds* as a number, or an RFC 3339 string.
    if isinstance(value, bool):
        raise ValueError("must be an RFC 3339 string or epoch seconds, not a boolean")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ValueError(f"epoch seconds out of range: {value!r}") from exc
    if isinstance(value, str):
        if not re.fullmatch(
            r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)", value
        ):
            raise ValueError("must be RFC 3339 with a UTC offset, e.g. 2026-11-09T18:00:00Z")
        return value
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[
    datetime,
    BeforeValidator(_epoch_seconds_or_rfc3339),
    AfterValidator(_to_utc),
    Field(description="RFC 3339 with offset, or epoch seconds; normalised to UTC"),
]


def utc_now() -> datetime:
    return datetime.now(UTC)
