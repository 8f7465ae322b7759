"""What the fleet board says of a shipment (pure).

``fleet_state`` is the one word for now, in order of precedence:

- ``lost``: the product's viability is lost (a lethal limit was held: frozen, or overheated);
  nothing that happens later changes it;
- ``excursion``: an open temperature or humidity excursion;
- ``at_risk``: the latest forecast misses ``deliver_by`` or the viability budget;
- ``silent``: an open ``sensor_silent`` excursion (the excursion processor already knows
  that trackers are silent in flight by design), or no reading yet at all;
- ``ok``: none of these.

A word for now forgets what the shipment went through: a freeze that ended is no open
excursion, yet the lobster did not get better. ``viability`` remembers (and the API filters
on it): ``lost``, else ``compromised`` after any critical excursion, open or closed, or when
the forecast says so (the modelled body touched a lethal limit, or the budget runs out
before arrival), else ``ok``. ``state_text`` says both, e.g.
``ok · 1 critical excursion · viability compromised``: never a plain ``ok`` for a shipment
that had a critical excursion or lost its viability.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from schemas.eta import LossReason, ViabilityState
from schemas.http import FleetState


@dataclass(frozen=True)
class OpenExcursion:
    kind: str
    severity: str


@dataclass(frozen=True)
class History:
    """What the shipment went through, as the board reads it."""

    critical_excursions: int = 0  # critical excursions, open or closed (retracted ones not)
    forecast_viability: ViabilityState = "ok"  # the latest forecast's viability state
    lost_reason: LossReason | None = None  # set once the ETA service found it lost


def fleet_state(open_excursions: Iterable[OpenExcursion], at_risk: bool,
                last_reading_at: datetime | None, lost: bool = False) -> FleetState:
    if lost:
        return "lost"
    kinds = {e.kind for e in open_excursions}
    if kinds - {"sensor_silent"}:
        return "excursion"
    if at_risk:
        return "at_risk"
    if "sensor_silent" in kinds or last_reading_at is None:
        return "silent"
    return "ok"


def viability_of(history: History) -> ViabilityState:
    if history.lost_reason is not None or history.forecast_viability == "lost":
        return "lost"
    if history.critical_excursions > 0 or history.forecast_viability == "compromised":
        return "compromised"
    return "ok"


def state_text(state: FleetState, history: History) -> str:
    """The state for people: ``ok · 2 critical excursions · viability compromised``."""
    count = history.critical_excursions
    excursions = [f"{count} critical excursion{'' if count == 1 else 's'}"] if count else []
    judged = viability_of(history)
    if judged == "lost":
        reason = f" ({history.lost_reason})" if history.lost_reason else ""
        return " · ".join([f"viability lost{reason}", *excursions])
    tail = ["viability compromised"] if judged == "compromised" else []
    return " · ".join([state.replace("_", " "), *excursions, *tail])


def worst_severity(open_excursions: Iterable[OpenExcursion]) -> str | None:
    severities = {e.severity for e in open_excursions}
    return "critical" if "critical" in severities else "warning" if severities else None
