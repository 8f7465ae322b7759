"""The intake with the outbox's database step replaced by memory: what one ETA update raises."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from schemas.eta import EtaUpdate
from services.alerts.intake import AlertIntake
from services.alerts.outbox import AlertOutbox
from services.alerts.policy import AlertState, Outcome, PolicyConfig
from tests.unit.alerts.factories import T0, shipment


class MemoryOutbox:
    """``AlertOutbox.apply`` over a dict: the policy memory per shipment and alert ids kept."""

    def __init__(self) -> None:
        self.states: dict[str, AlertState] = {}
        self.alerts: dict[str, Any] = {}

    async def apply(
        self, shipment_id: str, decide: Callable[[AlertState], Outcome], now: datetime,
        links_until: datetime | None = None,
    ) -> tuple[Outcome, list[str]]:
        outcome = decide(self.states.get(shipment_id, AlertState()))
        self.states[shipment_id] = outcome.state
        new = [a.id for a in outcome.alerts if a.id not in self.alerts]
        self.alerts.update({a.id: a for a in outcome.alerts})
        return outcome, new


def _update(kind: str, at_h: float, **extra: Any) -> EtaUpdate:
    return EtaUpdate.model_validate({
        "id": f"eta-{kind}-{at_h}", "shipment_id": "SHP-2026-0001", "kind": kind,
        "event_time": T0 + timedelta(hours=at_h), "eta": T0 + timedelta(hours=30),
        "deliver_by": T0 + timedelta(hours=24), "phase": "moving", "leg_index": 1,
        "leg_name": "YHZ -> PVG", "legs": [], "remaining_km": 9000.0, "viability_used_h": 10.0,
        "viability_remaining_at_eta_h": 15.0, "at_risk": kind == "at_risk", **extra,
    })


def test_an_update_that_is_late_and_lost_raises_both_and_the_loss_only_once() -> None:
    outbox = MemoryOutbox()
    intake = AlertIntake(cast(AlertOutbox, outbox), PolicyConfig(), ops=[], clock=lambda: T0)
    lost = {"viability_state": "lost", "viability_lost_at": T0, "viability_lost_reason": "heat"}

    async def scenario() -> list[list[str]]:
        first = await intake.on_eta(_update("at_risk", 1, risk_reasons=["late"],
                                            risk_episode_id="ep-1", **lost), shipment())
        again = await intake.on_eta(_update("eta", 2, **lost), shipment())
        return [[e.kind for e in first], [e.kind for e in again]]

    assert asyncio.run(scenario()) == [["at_risk", "viability_lost"], []]
    kinds = sorted(a.kind for a in outbox.alerts.values())
    assert kinds == ["at_risk", "viability_lost"]
