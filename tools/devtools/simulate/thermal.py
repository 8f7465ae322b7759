"""The temperature inside an insulated, gel-packed lobster box.

Two heat paths act on the box contents (lobsters, wet packing):

- the walls: Newton's law toward the ambient air, time constant ``wall_tau_h``;
- the gel packs: a phase-change gel that melts at ``gel_melt_c``. While it is part
  solid and part liquid it sits at its melt point and pulls the contents toward it
  (time constant ``gel_tau_h``), melting as it absorbs heat and refreezing as it gives
  heat back. ``gel_capacity_k`` is its latent heat, expressed as the temperature rise it
  would cause in the box contents: when it is all melted it stops buffering warmth, and
  when it is all frozen it stops buffering cold.

Ambient temperature is piecewise constant, so each step is solved exactly (a linear
first-order equation) instead of by Euler steps.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class BoxModel:
    wall_tau_h: float = 5.0
    gel_tau_h: float = 1.5
    gel_melt_c: float = 2.0
    gel_capacity_k: float = 30.0


@dataclass(frozen=True)
class BoxState:
    temp_c: float
    gel_frozen: float  # fraction of the gel still solid, 0..1


def _gel_active(model: BoxModel, state: BoxState, ambient_c: float) -> bool:
    """The gel buffers while it has solid left to melt (warming) or liquid left to freeze."""
    gap = state.temp_c - model.gel_melt_c
    if gap == 0:
        gap = ambient_c - model.gel_melt_c  # at its melt point: whichever way the air pushes
    if gap > 0:
        return state.gel_frozen > 0.0
    return gap < 0 and state.gel_frozen < 1.0


def advance(model: BoxModel, state: BoxState, ambient_c: float, dt_h: float) -> BoxState:
    """The box after ``dt_h`` hours at a constant ambient temperature."""
    wall_rate = 1.0 / model.wall_tau_h
    if not _gel_active(model, state, ambient_c):
        target = ambient_c
        rate = wall_rate
        melted = 0.0
    else:
        gel_rate = 1.0 / model.gel_tau_h
        rate = wall_rate + gel_rate
        target = (ambient_c * wall_rate + model.gel_melt_c * gel_rate) / rate
        decay = math.exp(-rate * dt_h)
        # Heat the gel took in over the step: its coupling times the mean of (T - melt).
        mean_gap = (target - model.gel_melt_c) + (state.temp_c - target) * (1 - decay) / (
            rate * dt_h
        )
        melted = gel_rate * mean_gap * dt_h / model.gel_capacity_k
    temp = target + (state.temp_c - target) * math.exp(-rate * dt_h)
    frozen = min(1.0, max(0.0, state.gel_frozen - melted))
    return BoxState(temp, frozen)


def trace(
    model: BoxModel, initial: BoxState, ambients: Iterable[float], dt_h: float
) -> array[float]:
    """Box temperature at t = 0, dt, 2 dt, ... for one ambient value per step."""
    temps = array("d", [initial.temp_c])
    state = initial
    for ambient in ambients:
        state = advance(model, state, ambient, dt_h)
        temps.append(state.temp_c)
    return temps
