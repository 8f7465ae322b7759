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


# Every value a reading carries ends in a column of ``readings`` (migration 0100) and in the
# hash chain's record (services/integrity/chain.py): these bounds are what those hold.
BIGINT_MAX = 2**63 - 1  # seq: a Postgres bigint, packed as int64 in the chain
MAX_SPEED_KMH = 2000.0  # well above the fastest cargo flights (~1,300 km/h with a jet stream)

# Strict: a JSON string or boolean is not a number ("3.5" or true as a temperature is a device
# bug, not a reading); finite: NaN and 1e999 (infinity once parsed) are no measurement.
Seq = Annotated[int, Field(ge=0, le=BIGINT_MAX, strict=True)]
TempC = Annotated[float, Field(ge=-60, le=80, strict=True, allow_inf_nan=False)]
Percent = Annotated[float, Field(ge=0, le=100, strict=True, allow_inf_nan=False)]
Latitude = Annotated[float, Field(ge=-90, le=90, strict=True, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, strict=True, allow_inf_nan=False)]
SpeedKmh = Annotated[float, Field(ge=0, le=MAX_SPEED_KMH, strict=True, allow_inf_nan=False)]


MAX_TIMESTAMP_CHARS = 40  # "2026-11-09T18:00:00.123456789+05:30" is 35


def _epoch_seconds_or_rfc3339(value: Any) -> Any:
    # Pydantic would read a large number as milliseconds and a digit string as epoch;
    # the contract allows only epoch *seconds* as a number, or an RFC 3339 string.
    if isinstance(value, bool):
        raise ValueError("must be an RFC 3339 string or epoch seconds, not a boolean")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            # The value is not repeated: a huge int cannot even be printed (int_max_str_digits).
            raise ValueError("epoch seconds out of range (years 1 to 9999)") from exc
    if isinstance(value, str):
        if len(value) > MAX_TIMESTAMP_CHARS:
            raise ValueError(f"longer than {MAX_TIMESTAMP_CHARS} characters: not an RFC 3339 time")
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
