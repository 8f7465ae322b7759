"""What kills: a modelled body temperature held against the product's lethal limits. Pure.

The Q10 budget (``viability``) says how fast the product uses up its life; this says when
it has none left at all, whatever the budget: frozen lobster is dead lobster.

Body. Out of water the animal's body follows the box air with a lag (1-2 h for lobster):
a first-order filter ``dB/dt = (A - B) / tau`` with ``tau`` the profile's
``body_time_constant_min``, solved exactly bucket by bucket for air held constant over a
bucket, so a brief dip of the air moves the body a little and a long one all the way. The
body is modelled twice, each on the safe side of its limit: a *cold* body fed the coldest
reading of each bucket, judged against ``low_c``, and a *warm* body fed the warmest, judged
against ``high_c``. Each starts at packing at the air of the first bucket.

Exposure. The minutes the cold body spends at or below ``low_c`` add up from packing (the warm
body's at or above ``high_c`` likewise): neither freezing nor heat damage is known to heal
within a trip. When they reach ``low_min`` (``high_min``) the product is lost, at that
moment, for freezing (heat); lost is for good.

Gaps. A bucket with no reading of its own is given the air its nearest readings allow: at
most ``slew_c`` per bucket (plus one bucket, for where in its bucket a reading fell) away
from them, towards safety (warmer for the cold body, colder for the warm one), and never
beyond the product's critical band. So a gap shows no cold that no reading showed, and when
a gap is filled later by readings that change no faster than that, the cold body can only
get colder (the warm body warmer): more readings never undo a verdict, and the verdict is
the same whatever order the readings came in. Readings that jump faster than the slew can
make a filled gap warmer than assumed; a loss already found then still stands (kept by
the ledger), which is the side to err on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from schemas.eta import LossReason
from services.profiles.model import LethalLimits, ProductProfile

Band = tuple[float, float]  # the coldest and the warmest reading of one bucket, degC
_INF = math.inf


@dataclass(frozen=True)
class BodyModel:
    limits: LethalLimits
    floor_c: float  # the critical band: a gap is never taken beyond it
    ceiling_c: float
    slew_c: float  # per bucket: how far the air may drift from the nearest reading in a gap
    bucket_min: int


def body_model(
    profile: ProductProfile, bucket_min: int, slew_c_per_h: float
) -> BodyModel | None:
    """The product's body model, or None for a product with no lethal limits."""
    if profile.lethal is None:
        return None
    return BodyModel(
        limits=profile.lethal,
        floor_c=profile.critical.low_c,
        ceiling_c=profile.critical.high_c,
        slew_c=slew_c_per_h * bucket_min / 60,
        bucket_min=bucket_min,
    )


class BodyAt(BaseModel):
    """The body model at a bucket boundary: what settling keeps of the buckets it folds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cold_c: float  # the body fed the coldest air (judged against low_c)
    warm_c: float  # the body fed the warmest air (judged against high_c)
    cold_min: float = 0.0  # minutes so far at or below low_c
    warm_min: float = 0.0  # minutes so far at or above high_c
    # How far the folded readings reach into the gap after the boundary (``_reach``).
    cold_edge_c: float | None = None
    warm_edge_c: float | None = None


class Loss(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    reason: LossReason


def earliest(first: Loss | None, second: Loss | None) -> Loss | None:
    """The earlier loss; on a tie freezing, so the answer does not depend on the order."""
    if first is None or second is None:
        return first or second
    return min(first, second, key=lambda loss: (loss.at, loss.reason))


@dataclass(frozen=True)
class Exposure:
    cold_min: float  # minutes at or below low_c, from packing
    warm_min: float
    # The loss found in the span walked (``exposure``); ``viability.lethal_exposure`` adds
    # the one the ledger kept.
    loss: Loss | None

    @property
    def touched(self) -> bool:
        """The body has been at a lethal limit at all: harmed, if not (yet) lost."""
        return self.cold_min > 0 or self.warm_min > 0


def advance(
    model: BodyModel,
    body: BodyAt | None,
    start_min: float,
    end_min: float,
    first: int | None,
    bands: Sequence[Band | None],
) -> tuple[BodyAt, Loss | None]:
    """The body model carried from ``start_min`` to ``end_min`` (epoch minutes).

    ``body`` stands at ``start_min`` (None: nothing walked yet, ``start_min`` is packing);
    ``bands[i]`` is bucket ``first + i``. Settling calls this up to a bucket boundary.
    """
    cold, warm = _sides(model, body, start_min, end_min, first, bands)
    loss = earliest(cold.loss, warm.loss)
    at = BodyAt(
        cold_c=cold.body, warm_c=-warm.body, cold_min=cold.spent, warm_min=warm.spent,
        cold_edge_c=_finite(cold.edge), warm_edge_c=_finite(-warm.edge),
    )
    return at, loss


def exposure(
    model: BodyModel,
    body: BodyAt | None,
    start_min: float,
    end_min: float,
    first: int | None,
    bands: Sequence[Band | None],
) -> Exposure:
    """Exposure and loss up to ``end_min``, for a forecast (the body itself is not kept)."""
    limits = model.limits
    # Fast path, the common trip: the body is a weighted mean of where it starts and of its
    # inputs, and a gap's input lies between readings (or the folded readings' edge) and the
    # critical band; so a cold body that starts above low_c, with every reading above it,
    # never reaches it (the warm body and high_c likewise).
    colds = [band[0] for band in bands if band is not None]
    warms = [band[1] for band in bands if band is not None]
    if body is not None:
        colds += [body.cold_c] + ([body.cold_edge_c] if body.cold_edge_c is not None else [])
        warms += [body.warm_c] + ([body.warm_edge_c] if body.warm_edge_c is not None else [])
    cold_safe = limits.low_c is None or min(colds, default=_INF) > limits.low_c
    warm_safe = limits.high_c is None or max(warms, default=-_INF) < limits.high_c
    if cold_safe and warm_safe:
        return Exposure(body.cold_min if body else 0.0, body.warm_min if body else 0.0, None)
    at, loss = advance(model, body, start_min, end_min, first, bands)
    return Exposure(at.cold_min, at.warm_min, loss)


@dataclass(frozen=True)
class _Side:
    body: float
    spent: float
    loss: Loss | None
    edge: float  # the forward reach after the last bucket walked (inf: none)


def _sides(
    model: BodyModel,
    body: BodyAt | None,
    start_min: float,
    end_min: float,
    first: int | None,
    bands: Sequence[Band | None],
) -> tuple[_Side, _Side]:
    """The cold side as it is, the warm side mirrored (every figure negated) onto it."""
    limits, size = model.limits, model.bucket_min
    low = int(start_min // size)
    high = max(low, math.ceil(end_min / size) - 1)
    offset = low - first if first is not None else 0
    cold_own = _own(bands, offset, 0)
    warm_own = [None if v is None else -v for v in _own(bands, offset, 1)]
    cold_in, cold_edge = _inputs(cold_own, high - low, body.cold_edge_c if body else None,
                                 model.slew_c, model.ceiling_c)
    warm_edge = body.warm_edge_c if body else None
    warm_in, warm_reach = _inputs(warm_own, high - low, None if warm_edge is None else -warm_edge,
                                  model.slew_c, -model.floor_c)
    span = _Span(start_min, end_min, low, size, limits.body_time_constant_min)
    cold = _walk(span, cold_in, body.cold_c if body else cold_in[0],
                 limits.low_c, limits.low_min, body.cold_min if body else 0.0, "freezing")
    warm = _walk(span, warm_in, -body.warm_c if body else warm_in[0],
                 None if limits.high_c is None else -limits.high_c, limits.high_min,
                 body.warm_min if body else 0.0, "heat")
    return (
        _Side(cold.body, cold.spent, cold.loss, cold_edge),
        _Side(warm.body, warm.spent, warm.loss, warm_reach),
    )


def _own(bands: Sequence[Band | None], offset: int, side: int) -> list[float | None]:
    """One side of each band from bucket ``low`` (``offset`` into ``bands``) to the last."""
    if offset >= 0:
        return [None if band is None else band[side] for band in bands[offset:]]
    return [None] * -offset + [None if band is None else band[side] for band in bands]


def _inputs(
    own: list[float | None], last: int, edge: float | None, slew: float, ceiling: float
) -> tuple[list[float], float]:
    """The air fed to the (cold) body for buckets ``0..last``, and the forward reach past it.

    A bucket's own coldest reading, else the warmest the air could have been: its nearest
    readings plus ``slew`` per bucket between (and one more), never above ``ceiling``.
    ``own`` may run past ``last``: later readings reach back into a gap too.
    """
    size = max(len(own), last + 1)
    own = own + [None] * (size - len(own))
    forward = [_INF] * (last + 1)
    reach = _INF if edge is None else edge
    for i in range(last + 1):
        value = own[i]
        if value is not None and value < reach:
            reach = value
        forward[i] = reach
        reach += slew
    inputs = [0.0] * (last + 1)
    back = _INF
    for i in range(size - 1, -1, -1):
        value = own[i]
        if value is not None and value < back:
            back = value
        if i <= last:
            near = value if value is not None else min(forward[i], back) + slew
            inputs[i] = min(near, ceiling)
        back += slew
    return inputs, reach


@dataclass(frozen=True)
class _Span:
    start_min: float
    end_min: float
    low: int  # the bucket of start_min
    bucket_min: int
    tau_min: float


@dataclass(frozen=True)
class _Walked:
    body: float
    spent: float
    loss: Loss | None


def _walk(
    span: _Span,
    inputs: list[float],
    body: float,
    limit_c: float | None,
    limit_min: float,
    spent: float,
    reason: LossReason,
) -> _Walked:
    """The (cold) body through the buckets, with its minutes at or below ``limit_c``."""
    loss = None
    for i, air in enumerate(inputs):
        begin = max(span.start_min, (span.low + i) * span.bucket_min)
        length = min(span.end_min, (span.low + i + 1) * span.bucket_min) - begin
        if length <= 0:
            continue
        if limit_c is not None:
            below = _below(body, air, limit_c, length, span.tau_min)
            if below is not None:
                into, out = below
                if spent < limit_min <= spent + (out - into):
                    loss = Loss(at=_time(begin + into + limit_min - spent), reason=reason)
                spent += out - into
        body = _step(body, air, length, span.tau_min)
    return _Walked(body, spent, loss)


def _below(body: float, air: float, limit: float, length: float, tau: float) -> tuple[float, float] | None:
    """When, within ``length`` minutes, a body heading for ``air`` is at or below ``limit``."""
    if tau == 0:
        return (0.0, length) if air <= limit else None
    if body <= limit:
        if air <= limit:
            return 0.0, length
        return 0.0, min(length, tau * math.log((air - body) / (air - limit)))  # warming out
    if air >= limit:
        return None
    into = tau * math.log((body - air) / (limit - air))  # cooling into it
    return (into, length) if into < length else None


def _step(body: float, air: float, length: float, tau: float) -> float:
    if tau == 0:
        return air
    return air + (body - air) * math.exp(-length / tau)


def _time(minutes: float) -> datetime:
    # Whole seconds: a loss time is compared and stored, and must not depend on float noise.
    return datetime.fromtimestamp(round(minutes * 60), UTC)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
