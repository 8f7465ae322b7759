"""Mean kinetic temperature (MKT), time-weighted for uneven sampling.

    MKT = (dH/R) / -ln( (1/T) * integral of exp(-dH / (R * T(t))) dt )

with T(t) in kelvin and dH/R = 10,000 K (USP <1079.2>; Haynes 1971). The integral is taken with the
trapezoid rule over consecutive readings, so each reading weighs half the interval on
either side of it; with evenly spaced readings this is the textbook
``(dH/R) / -ln((1/n) * sum(exp(-dH / (R * Ti))))`` up to half weights at both ends.
A single reading's MKT is its own temperature.

The accumulator is cumulative (sums only), so settled history costs nothing to keep.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

ACTIVATION_K = 10_000.0  # dH/R
KELVIN = 273.15


def arrhenius(temp_c: float) -> float:
    return math.exp(-ACTIVATION_K / (temp_c + KELVIN))


@dataclass(slots=True)
class MktAccumulator:
    weighted_sum: float = 0.0  # integral of arrhenius(T) dt, seconds
    seconds: float = 0.0
    last_t: float | None = None
    last_factor: float = 0.0

    def copy(self) -> MktAccumulator:
        return MktAccumulator(self.weighted_sum, self.seconds, self.last_t, self.last_factor)

    def add(self, t: float, temp_c: float) -> None:
        """Adds a reading later than every reading added before."""
        factor = arrhenius(temp_c)
        if self.last_t is not None:
            dt = t - self.last_t
            self.weighted_sum += (self.last_factor + factor) * 0.5 * dt
            self.seconds += dt
        self.last_t = t
        self.last_factor = factor


def mkt_from(accumulators: Iterable[MktAccumulator]) -> float | None:
    """MKT over several devices' accumulators together (each weighted by its time span)."""
    total = seconds = 0.0
    singles: list[float] = []
    for acc in accumulators:
        if acc.last_t is None:
            continue
        if acc.seconds > 0:
            total += acc.weighted_sum
            seconds += acc.seconds
        else:
            singles.append(acc.last_factor)
    if seconds > 0:
        return ACTIVATION_K / -math.log(total / seconds) - KELVIN
    if singles:
        return ACTIVATION_K / -math.log(sum(singles) / len(singles)) - KELVIN
    return None
