"""Summary statistics of one device's temperature (or humidity) history: pure functions.

Between two consecutive readings the value is taken to change linearly, so time out of
range and degree-minutes are exact areas of that line (a crossing inside an interval
counts from the crossing). An interval longer than ``max_gap`` is *no data*: it counts
neither in range nor out of it, and is reported as such (a tracker silent in flight).

``mean`` is the plain mean of the samples; ``mkt_c`` is the mean kinetic temperature,
interval-weighted (services/excursions/mkt.py: dH/R = 10,000 K).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.excursions.mkt import MktAccumulator, mkt_from

DEFAULT_MAX_GAP = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Sample:
    time: datetime
    value: float


@dataclass(frozen=True)
class SeriesStatistics:
    count: int
    first: datetime | None
    last: datetime | None
    minimum: float | None
    maximum: float | None
    mean: float | None
    minutes_above: float  # above the high limit
    minutes_below: float  # below the low limit
    degree_minutes_above: float  # area above the high limit (unit x min)
    degree_minutes_below: float  # area below the low limit
    minutes_without_data: float  # intervals longer than max_gap
    mkt_c: float | None  # temperatures only

    @property
    def minutes_out_of_range(self) -> float:
        return self.minutes_above + self.minutes_below

    @property
    def degree_minutes(self) -> float:
        return self.degree_minutes_above + self.degree_minutes_below


def _excess(v0: float, v1: float, limit: float, minutes: float) -> tuple[float, float]:
    """Time and area above ``limit`` of the line from v0 to v1 over ``minutes``."""
    if v0 <= limit and v1 <= limit:
        return 0.0, 0.0
    if v0 >= limit and v1 >= limit:
        return minutes, (v0 - limit + v1 - limit) / 2 * minutes
    # One crossing: the part above is a triangle.
    peak = max(v0, v1) - limit
    above = minutes * peak / abs(v1 - v0)
    return above, peak * above / 2


def series_statistics(samples: Sequence[Sample], low: float | None, high: float | None,
                      max_gap: timedelta = DEFAULT_MAX_GAP, kinetic: bool = False) -> SeriesStatistics:
    """``samples`` in time order; ``low``/``high`` None = not limited on that side."""
    if not samples:
        return SeriesStatistics(0, None, None, None, None, None, 0.0, 0.0, 0.0, 0.0, 0.0, None)
    above = below = area_above = area_below = silent = 0.0
    mkt = MktAccumulator()
    gap_minutes = max_gap.total_seconds() / 60
    previous: Sample | None = None
    for sample in samples:
        if kinetic:
            mkt.add(sample.time.timestamp(), sample.value)
        if previous is not None:
            minutes = (sample.time - previous.time).total_seconds() / 60
            if minutes > gap_minutes:
                silent += minutes
            else:
                if high is not None:
                    t, a = _excess(previous.value, sample.value, high, minutes)
                    above, area_above = above + t, area_above + a
                if low is not None:
                    t, a = _excess(-previous.value, -sample.value, -low, minutes)
                    below, area_below = below + t, area_below + a
        previous = sample
    values = [s.value for s in samples]
    return SeriesStatistics(
        count=len(samples), first=samples[0].time, last=samples[-1].time,
        minimum=min(values), maximum=max(values), mean=sum(values) / len(values),
        minutes_above=above, minutes_below=below, degree_minutes_above=area_above,
        degree_minutes_below=area_below, minutes_without_data=silent,
        mkt_c=mkt_from([mkt]) if kinetic else None,
    )


def combined_mkt(per_device: Iterable[Sequence[Sample]]) -> float | None:
    """The shipment's MKT over all its devices, each weighted by its time span."""
    accumulators = []
    for samples in per_device:
        acc = MktAccumulator()
        for sample in samples:
            acc.add(sample.time.timestamp(), sample.value)
        accumulators.append(acc)
    return mkt_from(accumulators)
