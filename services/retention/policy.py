"""What a retention run should do, decided from the settings, the clock and the licence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Hypertables whose old chunks are dropped.
RETAINED_TABLES = ("readings", "eta")


@dataclass(frozen=True)
class RetentionPlan:
    drop_before: datetime | None  # drop chunks that end at or before this time
    compress_before: datetime | None  # compress chunks that end at or before this time


def plan(now: datetime, retention_days: int, compress_after_days: int, license: str) -> RetentionPlan:
    drop = now - timedelta(days=retention_days) if retention_days > 0 else None
    # Compression is a Timescale-licence feature: the Apache build answers "apache".
    compress = (now - timedelta(days=compress_after_days)
                if compress_after_days > 0 and license == "timescale" else None)
    if drop is not None and compress is not None and compress <= drop:
        compress = None  # everything that old is dropped anyway
    return RetentionPlan(drop, compress)
