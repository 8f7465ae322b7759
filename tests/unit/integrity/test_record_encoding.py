"""The chain's record encoding, packed the fast way, gives the very bytes of the documented
field-by-field encoding (the stored chains' hashes depend on them)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from services.integrity.chain import ChainedReading, record


def documented(reading: ChainedReading) -> bytes:
    """The encoding as services/integrity/chain.py's docstring states it, one field at a time."""
    def text(value: str | None) -> bytes:
        if value is None:
            return b"\x00"
        encoded = value.encode()
        return b"\x01" + struct.pack(">i", len(encoded)) + encoded

    delta = reading.time - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    parts = [b"\x01" + struct.pack(">q", micros), text(reading.device_id), text(reading.shipment_id),
             b"\x00" if reading.seq is None else b"\x01" + struct.pack(">q", reading.seq)]
    for value in reading[4:]:
        parts.append(b"\x00" if value is None else b"\x01" + struct.pack(">d", value))
    return b"".join(parts)


_numbers = st.none() | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([0.0, -0.0, 1e-310])
# Hypothesis takes naive bounds and applies the time zone it draws.
_times = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),  # noqa: DTZ001
                      timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]))


@given(st.builds(ChainedReading, _times, st.text(min_size=1, max_size=70), st.none() | st.text(max_size=70),
                 st.none() | st.integers(-(2**63), 2**63 - 1), _numbers, _numbers, _numbers, _numbers, _numbers,
                 _numbers))
def test_record_packs_the_documented_bytes(reading: ChainedReading) -> None:
    assert record(reading) == documented(reading)


def test_a_reading_before_1970_counts_negative_microseconds() -> None:
    reading = ChainedReading(datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), "TRK-1", None, None,
                             None, None, None, None, None, None)
    assert record(reading) == documented(reading)
    assert record(reading)[1:9] == struct.pack(">q", -1)
