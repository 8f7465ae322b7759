"""Glue between the stream and the pure core, with no Kafka or faust in it.

Turns the stored JSON (shipment and state table values) and the raw reading bytes into
the core's types, calls ``apply_reading`` and hands back what to store and publish. The
faust agent in ``services.eta.app`` only moves these values in and out of its tables.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.eta import EtaUpdate
from schemas.reading_wire import ReadingLike
from schemas.shipment import Shipment
from services.eta.context import EtaContext, make_context
from services.eta.core import apply_readings
from services.eta.parameters import EtaParameters
from services.eta.tracking import EtaState
from services.profiles.model import ProductProfile

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]
CONTEXT_CACHE_SIZE = 10_000  # routes kept built; a miss only costs rebuilding one
STATE_CACHE_SIZE = 2_000  # states kept parsed (the busiest shipments); a miss only costs parsing one


@dataclass(frozen=True)
class EtaOutcome:
    state: JsonObject  # the new state, to store
    updates: list[EtaUpdate]  # to publish on coldchain.eta, keyed by shipment id


class EtaProcessor:
    """Holds the model parameters, the product profiles and a cache of route contexts."""

    def __init__(self, params: EtaParameters, profiles: Mapping[str, ProductProfile]) -> None:
        self._params = params
        self._profiles = profiles
        self._contexts: OrderedDict[str, tuple[JsonObject, EtaContext]] = OrderedDict()
        # The state last handed out per shipment, with the very JSON object it was dumped to:
        # when the table gives that object back, validating it again would rebuild the same
        # (frozen) state. Checked by identity, so a value recovered from the changelog or
        # written by another worker is always validated.
        self._states: OrderedDict[str, tuple[JsonObject, EtaState]] = OrderedDict()

    def context(self, shipment: JsonObject) -> EtaContext | None:
        shipment_id = str(shipment.get("id"))
        cached = self._contexts.get(shipment_id)
        if cached is not None and cached[0] == shipment:
            self._contexts.move_to_end(shipment_id)
            return cached[1]
        parsed = Shipment.model_validate(shipment)
        profile = self._profiles.get(parsed.product)
        if profile is None:
            log.error("shipment %s names unknown product %r: no ETA", parsed.id, parsed.product,
                      extra={"shipment_id": parsed.id})
            return None
        context = make_context(parsed, profile, self._params)
        self._contexts[shipment_id] = (shipment, context)
        self._contexts.move_to_end(shipment_id)
        if len(self._contexts) > CONTEXT_CACHE_SIZE:
            self._contexts.popitem(last=False)
        return context

    def on_readings(
        self, readings: Sequence[ReadingLike], shipment: JsonObject | None, state: JsonObject | None
    ) -> EtaOutcome | None:
        """One shipment's readings, in order; None when they have no registered shipment
        (unbound, or not yet known). The state is stored once for all of them."""
        if not readings or readings[0].shipment_id is None or shipment is None:
            return None
        shipment_id = readings[0].shipment_id
        context = self.context(shipment)
        if context is None:
            return None
        new, updates = apply_readings(self._state(shipment_id, state), readings, context)
        stored = new.model_dump(mode="json")
        self._states[shipment_id] = (stored, new)
        if len(self._states) > STATE_CACHE_SIZE:
            self._states.popitem(last=False)
        return EtaOutcome(state=stored, updates=updates)

    def _state(self, shipment_id: str, stored: JsonObject | None) -> EtaState | None:
        cached = self._states.pop(shipment_id, None)
        if stored is None:
            return None
        if cached is not None and cached[0] is stored:
            return cached[1]
        return EtaState.model_validate(stored)
