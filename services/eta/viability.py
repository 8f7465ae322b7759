"""The product's survival budget, consumed faster the warmer it is kept, and the ledger of
temperatures it is reckoned from (with what kills, ``lethal``).

Model (services/profiles ``ViabilityModel``): from ``packed_at`` the budget of ``budget_h``
hours is consumed at ``max(floor_rate, q10 ** ((T - reference_c) / 10))`` budget-hours per
hour at temperature ``T``: one per hour at the reference temperature, twice that 10 degrees
warmer when ``q10 = 2``, and never less than ``floor_rate`` however cold.

The ledger keeps, per time bucket, the coldest and the warmest reading seen in it: a minimum
and a maximum make the ledger independent of the order readings arrive in and of duplicates
(a replayed reading changes nothing). The budget is consumed at the rate of the warmest,
which errs on the safe side within a bucket; a bucket without readings holds the rate of the
bucket before it (the first known rate before any reading). The lethal limits read both
sides (``lethal``). Buckets older than the lateness horizon are folded into settled sums (the
budget used, the body model and its exposure) to bound the state; a loss, once found, is
kept for good.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from services.eta.lethal import Band, BodyAt, BodyModel, Exposure, Loss, advance, earliest, exposure
from services.profiles.model import ViabilityModel

REFERENCE_RATE = 1.0  # assumed before any temperature is known: the reference temperature
# Temperatures are kept to 0.01 degC: the ledger is most of the state written to the changelog
# on every reading, and no tracker is that accurate.
TEMP_DECIMALS = 2


def consumption_rate(model: ViabilityModel, temp_c: float) -> float:
    """Budget-hours consumed per hour at ``temp_c``."""
    return max(model.floor_rate, model.q10 ** ((temp_c - model.reference_c) / 10))


class ViabilityLedger(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    first: int | None = None  # the bucket index of bands[0]
    bands: tuple[Band | None, ...] = ()  # per bucket from `first`: coldest, warmest reading
    # States stored before the bands kept only the warmest rate per bucket; read, never
    # written, gone once settled.
    peaks: dict[int, float] = {}
    settled_until: int | None = None  # buckets before this index are folded into settled_*
    settled_h: float = 0.0  # budget-hours used from packed_at to the settled bucket
    settled_rate: float | None = None  # the rate in force at the end of the settled span
    body: BodyAt | None = None  # the body model at settled_until
    lost: Loss | None = None  # the first loss found; kept whatever later readings say


def _minutes(time: datetime) -> float:
    return time.timestamp() / 60


def _bucket(time: datetime, bucket_min: int) -> int:
    return _bucket_at(time.timestamp(), bucket_min)


def _bucket_at(seconds: float, bucket_min: int) -> int:
    return int(seconds / 60 // bucket_min)


def record(
    ledger: ViabilityLedger,
    time: datetime,
    temp_c: float,
    packed_at: datetime,
    bucket_min: int,
) -> ViabilityLedger:
    """The ledger with one more reading; readings before packing or settled are ignored."""
    folding = LedgerFold(ledger, packed_at, bucket_min)
    folding.record(time.timestamp(), temp_c)
    return folding.ledger()


class LedgerFold:
    """A ledger taking readings one after the other in one mutable copy: ``record`` and
    ``settle`` do what the functions of those names do, and the frozen ledger is built when
    asked for (a settle needs it once a bucket). Copying the ledger and its bands for each
    reading of a landed backlog was a large part of the ETA's CPU."""

    __slots__ = ("_ledger", "_first", "_bands", "_changed", "_packed_at", "_packed_ts", "_bucket_min")

    def __init__(self, ledger: ViabilityLedger, packed_at: datetime, bucket_min: int) -> None:
        self._ledger = ledger
        self._first = ledger.first
        self._bands: list[Band | None] | None = None  # a copy of ledger.bands once one changes
        self._changed = False
        self._packed_at = packed_at
        self._packed_ts = packed_at.timestamp()
        self._bucket_min = bucket_min

    def record(self, ts: float, temp_c: float) -> None:
        """One reading at ``ts`` (epoch seconds: ordered as the datetimes, to the microsecond)."""
        if ts < self._packed_ts:
            return
        temp_c = round(temp_c, TEMP_DECIMALS)
        bucket = _bucket_at(ts, self._bucket_min)
        settled = self._ledger.settled_until
        if settled is not None and bucket < settled:
            return
        bands = self._bands
        if bands is None:
            bands = self._bands = list(self._ledger.bands)
        first = self._first
        if first is None or not bands:
            self._first, self._bands, self._changed = bucket, [(temp_c, temp_c)], True
            return
        if bucket < first:
            bands[:0] = [None] * (first - bucket)
            first = self._first = bucket
        elif bucket >= first + len(bands):
            bands.extend([None] * (bucket - first - len(bands) + 1))
        index = bucket - first
        old = bands[index]
        band = (temp_c, temp_c) if old is None else (min(old[0], temp_c), max(old[1], temp_c))
        if band != old:
            bands[index] = band
            self._changed = True

    def settle(self, model: ViabilityModel, body: BodyModel | None, horizon: datetime) -> None:
        if _settles(self._ledger, self._packed_at, horizon, self._bucket_min):
            self._restart(settle(self.ledger(), model, body, self._packed_at, horizon, self._bucket_min))

    def ledger(self) -> ViabilityLedger:
        if self._changed:
            assert self._bands is not None
            self._ledger = self._ledger.model_copy(update={"first": self._first, "bands": tuple(self._bands)})
            self._changed = False
        return self._ledger

    def _restart(self, ledger: ViabilityLedger) -> None:
        self._ledger, self._first, self._bands, self._changed = ledger, ledger.first, None, False


def _rate(ledger: ViabilityLedger, model: ViabilityModel, bucket: int) -> float | None:
    """The rate of a bucket with readings (its warmest), else None."""
    legacy = ledger.peaks.get(bucket)
    band = None
    if ledger.first is not None and 0 <= bucket - ledger.first < len(ledger.bands):
        band = ledger.bands[bucket - ledger.first]
    if band is None:
        return legacy
    rate = consumption_rate(model, band[1])
    return rate if legacy is None else max(rate, legacy)


def _first_rate(ledger: ViabilityLedger, model: ViabilityModel) -> float:
    """The rate of the earliest bucket with readings: it is held back to packing."""
    buckets = list(ledger.peaks)
    if ledger.first is not None:
        index = next((i for i, band in enumerate(ledger.bands) if band is not None), None)
        buckets += [] if index is None else [ledger.first + index]
    rate = _rate(ledger, model, min(buckets)) if buckets else None
    return REFERENCE_RATE if rate is None else rate


def _walk(
    ledger: ViabilityLedger,
    model: ViabilityModel,
    start_min: float,
    end_min: float,
    bucket_min: int,
) -> tuple[float, float]:
    """Budget-hours used between two times (epoch minutes), and the rate in force at the end."""
    hold = ledger.settled_rate
    if hold is None:
        hold = _first_rate(ledger, model)
    used_min = 0.0
    bucket = int(start_min // bucket_min)
    while bucket * bucket_min < end_min:
        rate = _rate(ledger, model, bucket)
        hold = hold if rate is None else rate
        low = max(start_min, bucket * bucket_min)
        high = min(end_min, (bucket + 1) * bucket_min)
        used_min += max(0.0, high - low) * hold
        bucket += 1
    return used_min / 60, hold


def used_h(
    ledger: ViabilityLedger,
    model: ViabilityModel,
    packed_at: datetime,
    until: datetime,
    bucket_min: int,
) -> float:
    """Budget-hours used from ``packed_at`` to ``until``."""
    used, _ = _used_and_rate(ledger, model, packed_at, _minutes(until), bucket_min)
    return used


def _used_and_rate(
    ledger: ViabilityLedger,
    model: ViabilityModel,
    packed_at: datetime,
    end: float,
    bucket_min: int,
) -> tuple[float, float]:
    start = _minutes(packed_at)
    base = 0.0
    if ledger.settled_until is not None:
        start = max(start, ledger.settled_until * bucket_min)
        base = ledger.settled_h
    if end <= start:
        return base, ledger.settled_rate or REFERENCE_RATE
    used, rate = _walk(ledger, model, start, end, bucket_min)
    return base + used, rate


def _body_start(ledger: ViabilityLedger, packed_at: datetime, bucket_min: int) -> float:
    if ledger.settled_until is None:
        return _minutes(packed_at)
    return max(_minutes(packed_at), ledger.settled_until * bucket_min)


def lethal_exposure(
    ledger: ViabilityLedger, body: BodyModel | None, packed_at: datetime, until: datetime
) -> Exposure:
    """The body's exposure from packing to ``until``; its loss is the ledger's, or the first
    found now."""
    if body is None:
        return Exposure(0.0, 0.0, ledger.lost)
    start = _body_start(ledger, packed_at, body.bucket_min)
    end = _minutes(until)
    if end <= start:
        settled = ledger.body
        return Exposure(settled.cold_min if settled else 0.0, settled.warm_min if settled else 0.0,
                        ledger.lost)
    found = exposure(body, ledger.body, start, end, ledger.first, ledger.bands)
    return Exposure(found.cold_min, found.warm_min, earliest(ledger.lost, found.loss))


def keep_loss(ledger: ViabilityLedger, loss: Loss | None) -> ViabilityLedger:
    """The ledger remembering ``loss`` (the earliest, if it knew one already)."""
    kept = earliest(ledger.lost, loss)
    return ledger if kept == ledger.lost else ledger.model_copy(update={"lost": kept})


def settle(
    ledger: ViabilityLedger,
    model: ViabilityModel,
    body: BodyModel | None,
    packed_at: datetime,
    horizon: datetime,
    bucket_min: int,
) -> ViabilityLedger:
    """Fold the buckets wholly before ``horizon`` into the settled sums."""
    if not _settles(ledger, packed_at, horizon, bucket_min):
        return ledger
    until = _bucket(horizon, bucket_min)
    boundary_min = until * bucket_min
    used, rate = _used_and_rate(ledger, model, packed_at, boundary_min, bucket_min)
    settled_body, loss = ledger.body, None
    if body is not None:
        start = _body_start(ledger, packed_at, bucket_min)
        settled_body, loss = advance(body, ledger.body, start, boundary_min, ledger.first,
                                     ledger.bands)
    first, bands = ledger.first, ledger.bands
    if first is not None and first < until:
        bands = bands[until - first:]
        first = until if bands else None
    return ViabilityLedger(
        first=first,
        bands=bands,
        peaks={bucket: peak for bucket, peak in ledger.peaks.items() if bucket >= until},
        settled_until=until,
        settled_h=used,
        settled_rate=rate,
        body=settled_body,
        lost=earliest(ledger.lost, loss),
    )


def _settles(ledger: ViabilityLedger, packed_at: datetime, horizon: datetime, bucket_min: int) -> bool:
    """Whether ``settle`` up to ``horizon`` folds any bucket (after packing) not settled yet."""
    until = _bucket(horizon, bucket_min)
    if ledger.settled_until is not None and until <= ledger.settled_until:
        return False
    return until * bucket_min > _minutes(packed_at)
