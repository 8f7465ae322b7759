"""ETA and viability forecasts (topic ``coldchain.eta``, keyed by shipment id).

The ETA processor emits an ``EtaUpdate`` when a shipment's forecast moves by more than a
threshold, when a leg starts or ends, when the shipment becomes at risk of missing
``deliver_by`` or its viability budget ("at_risk") or stops being so ("recovered"), and when
its viability state changes ("viability": compromised, or lost to freezing or heat).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.common import ShipmentId, UtcDatetime
from schemas.shipment import LegMode

EtaKind = Literal["eta", "at_risk", "recovered", "viability"]
RiskReason = Literal["late", "viability"]
# ok; compromised: the modelled body has been at a lethal limit, or the budget runs out
# before arrival; lost: a lethal limit was held long enough (for good, whatever follows).
ViabilityState = Literal["ok", "compromised", "lost"]
LossReason = Literal["freezing", "heat"]
LegState = Literal["planned", "active", "done"]
Phase = Literal["dwelling", "moving", "delivered"]


class LegStatus(BaseModel):
    """One leg of the route, from the stop before it to the stop named by ``destination``.

    ``departure_observed`` is False while the departure is inferred from the schedule
    (a silent air leg: trackers are off in flight) rather than seen in a position fix.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    origin: str
    destination: str
    mode: LegMode
    state: LegState
    departed_at: UtcDatetime | None = None
    arrived_at: UtcDatetime | None = None
    departure_observed: bool = False


class EtaUpdate(BaseModel):
    """One forecast of a shipment's arrival and of its viability at arrival.

    ``event_time`` is the forecast's event-time clock: the latest reading time the processor
    had seen for the shipment. ``id`` is deterministic (same input, same id) so sinks can
    store each update once. ``risk_episode_id`` names the at-risk episode an update belongs
    to (set from its "at_risk" event up to and including its "recovered" event).

    Viability: the product's budget is consumed at
    ``max(floor_rate, q10 ** ((T - reference_c) / 10))`` budget-hours per hour from
    ``packed_at``; ``viability_remaining_at_eta_h`` projects the current temperature to
    ``eta``; ``viability_ends_at`` is when the budget would run out at that temperature.

    The budget only counts wear; ``viability_state`` says whether the product is alive at all.
    The product profile's lethal limits are held against a modelled body temperature (the
    box air through a first-order lag): ``lost`` once the body spent the profile's minutes at
    or below its freezing limit or at or above its heat limit, with ``viability_lost_at`` (the
    moment, in device time) and ``viability_lost_reason``; a lost shipment stays lost, and
    its budget figures no longer mean anything.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    shipment_id: ShipmentId
    kind: EtaKind
    event_time: UtcDatetime
    eta: UtcDatetime
    deliver_by: UtcDatetime
    phase: Phase
    leg_index: int  # the leg under way, or the next to depart while dwelling
    leg_name: str  # "origin -> destination" of that leg
    legs: list[LegStatus]
    remaining_km: float
    temp_c: float | None = None  # the temperature the projection assumes
    viability_used_h: float
    viability_remaining_at_eta_h: float
    viability_ends_at: UtcDatetime | None = None
    # Defaults: updates published before lethal limits existed still read.
    viability_state: ViabilityState = "ok"
    viability_lost_at: UtcDatetime | None = None
    viability_lost_reason: LossReason | None = None
    at_risk: bool
    risk_reasons: list[RiskReason] = []
    risk_episode_id: str | None = None
