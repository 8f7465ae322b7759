"""The one-word state of a shipment on the fleet board (pure).

In order of precedence:

- ``excursion``: an open temperature or humidity excursion;
- ``at_risk``: the latest forecast misses ``deliver_by`` or the viability budget;
- ``silent``: an open ``sensor_silent`` excursion (the excursion processor already knows
  that trackers are silent in flight by design), or no reading yet at all;
- ``ok``: none of these.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

FleetState = Literal["excursion", "at_risk", "silent", "ok"]


@dataclass(frozen=True)
class OpenExcursion:
    kind: str
    severity: str


def fleet_state(open_excursions: Iterable[OpenExcursion], at_risk: bool,
                last_reading_at: datetime | None) -> FleetState:
    kinds = {e.kind for e in open_excursions}
    if kinds - {"sensor_silent"}:
        return "excursion"
    if at_risk:
        return "at_risk"
    if "sensor_silent" in kinds or last_reading_at is None:
        return "silent"
    return "ok"


def worst_severity(open_excursions: Iterable[OpenExcursion]) -> str | None:
    severities = {e.severity for e in open_excursions}
    return "critical" if "critical" in severities else "warning" if severities else None
