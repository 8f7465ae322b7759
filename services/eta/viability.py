"""The product's survival budget, consumed faster the warmer it is kept.

Model (services/profiles ``ViabilityModel``): from ``packed_at`` the budget of ``budget_h``
hours is consumed at ``max(floor_rate, q10 ** ((T - reference_c) / 10))`` budget-hours per
hour at temperature ``T``: one per hour at the reference temperature, twice that 10 degrees
warmer when ``q10 = 2``, and never less than ``floor_rate`` however cold.

The ledger keeps, per time bucket, the warmest rate seen in it: taking a maximum makes the
ledger independent of the order readings arrive in and of duplicates (a replayed reading
changes nothing), and errs on the safe side within a bucket. A bucket without readings
holds the rate of the bucket before it (the first known rate before any reading). Buckets
older than the lateness horizon are folded into one settled sum to bound the state.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from services.profiles.model import ViabilityModel

REFERENCE_RATE = 1.0  # assumed before any temperature is known: the reference temperature
# Rates are kept to 1e-4 budget-hours per hour (a 36 h ledger errs by under 10 s of budget):
# the ledger is most of the state written to the changelog on every reading.
RATE_DECIMALS = 4


def consumption_rate(model: ViabilityModel, temp_c: float) -> float:
    """Budget-hours consumed per hour at ``temp_c``."""
    return max(model.floor_rate, model.q10 ** ((temp_c - model.reference_c) / 10))


class ViabilityLedger(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    peaks: dict[int, float] = {}  # bucket index -> warmest consumption rate seen in it
    settled_until: int | None = None  # buckets before this index are folded into settled_h
    settled_h: float = 0.0  # budget-hours used from packed_at to the settled bucket
    settled_rate: float | None = None  # the rate in force at the end of the settled span


def _minutes(time: datetime) -> float:
    return time.timestamp() / 60


def _bucket(time: datetime, bucket_min: int) -> int:
    return int(_minutes(time) // bucket_min)


def record(
    ledger: ViabilityLedger,
    time: datetime,
    rate: float,
    packed_at: datetime,
    bucket_min: int,
) -> ViabilityLedger:
    """The ledger with one more reading; readings before packing or settled are ignored."""
    if time < packed_at:
        return ledger
    rate = round(rate, RATE_DECIMALS)
    bucket = _bucket(time, bucket_min)
    if ledger.settled_until is not None and bucket < ledger.settled_until:
        return ledger
    if ledger.peaks.get(bucket, float("-inf")) >= rate:
        return ledger
    return ledger.model_copy(update={"peaks": {**ledger.peaks, bucket: rate}})


def _walk(
    ledger: ViabilityLedger, start_min: float, end_min: float, bucket_min: int
) -> tuple[float, float]:
    """Budget-hours used between two times (epoch minutes), and the rate in force at the end."""
    hold = ledger.settled_rate
    if hold is None:
        hold = ledger.peaks[min(ledger.peaks)] if ledger.peaks else REFERENCE_RATE
    used_min = 0.0
    bucket = int(start_min // bucket_min)
    while bucket * bucket_min < end_min:
        hold = ledger.peaks.get(bucket, hold)
        low = max(start_min, bucket * bucket_min)
        high = min(end_min, (bucket + 1) * bucket_min)
        used_min += max(0.0, high - low) * hold
        bucket += 1
    return used_min / 60, hold


def used_h(
    ledger: ViabilityLedger, packed_at: datetime, until: datetime, bucket_min: int
) -> float:
    """Budget-hours used from ``packed_at`` to ``until``."""
    used, _ = _used_and_rate(ledger, packed_at, until, bucket_min)
    return used


def _used_and_rate(
    ledger: ViabilityLedger, packed_at: datetime, until: datetime, bucket_min: int
) -> tuple[float, float]:
    start = _minutes(packed_at)
    base = 0.0
    if ledger.settled_until is not None:
        start = max(start, ledger.settled_until * bucket_min)
        base = ledger.settled_h
    end = _minutes(until)
    if end <= start:
        return base, ledger.settled_rate or REFERENCE_RATE
    used, rate = _walk(ledger, start, end, bucket_min)
    return base + used, rate


def settle(
    ledger: ViabilityLedger, packed_at: datetime, horizon: datetime, bucket_min: int
) -> ViabilityLedger:
    """Fold the buckets wholly before ``horizon`` into the settled sum."""
    until = _bucket(horizon, bucket_min)
    if ledger.settled_until is not None and until <= ledger.settled_until:
        return ledger
    if until * bucket_min <= _minutes(packed_at):
        return ledger
    boundary_min = until * bucket_min
    used, rate = _used_and_rate(
        ledger, packed_at, datetime.fromtimestamp(boundary_min * 60, packed_at.tzinfo), bucket_min
    )
    return ViabilityLedger(
        peaks={bucket: peak for bucket, peak in ledger.peaks.items() if bucket >= until},
        settled_until=until,
        settled_h=used,
        settled_rate=rate,
    )
