"""Glue between the stream and the pure core, with no Kafka or faust in it.

The faust agents in ``services.excursions.app`` hand raw message values and table values
(bytes) to ``ExcursionProcessor`` and store or send what comes back; this module decodes,
picks the shipment's limits, calls ``scoring`` and encodes the state again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import TypeAdapter, ValidationError

from schemas.excursion import ExcursionEvent, ExcursionLimits, ProfileOverride
from schemas.reading import Reading
from schemas.shipment import Shipment
from services.excursions.flight import likely_in_air
from services.excursions.journey import journey_over
from services.excursions.limits import limits_for
from services.excursions.scoring import DEFAULT_CONFIG, ScoringConfig, apply_readings, check_silence, new_state
from services.excursions.state import ShipmentState
from services.profiles.model import ProductProfile

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StoredState:
    """The table value: the core's state and the source partition its readings came from.

    The silence timer's tick for partition p only touches shipments stored from p, so
    every table write goes to the changelog partition that owns the key.
    """

    partition: int
    state: ShipmentState


_STORED = TypeAdapter(StoredState)


@dataclass(frozen=True, slots=True)
class Step:
    stored: bytes
    events: list[ExcursionEvent]


class ExcursionProcessor:
    def __init__(
        self,
        profiles: Mapping[str, ProductProfile],
        default_product: str = "live-lobster",
        config: ScoringConfig = DEFAULT_CONFIG,
    ) -> None:
        if default_product not in profiles:
            raise ValueError(f"default product {default_product!r} has no profile")
        self.profiles = profiles
        self.default_product = default_product
        self.config = config
        # The last state decoded or encoded per shipment, with the bytes it came from: when the
        # table hands back those very bytes, parsing them again would rebuild the same state.
        self._decoded: dict[str, tuple[bytes, StoredState]] = {}

    def decode_reading(self, raw: bytes) -> Reading | None:
        try:
            return Reading.model_validate_json(raw)
        except ValidationError as exc:
            log.warning("skipping a reading that does not parse: %s", exc)
            return None

    def decode_shipment(self, raw: bytes | None) -> Shipment | None:
        """None for a tombstone or a record that does not parse."""
        if raw is None:
            return None
        try:
            return Shipment.model_validate_json(raw)
        except ValidationError as exc:
            log.warning("skipping a shipment that does not parse: %s", exc)
            return None

    def limits(self, shipment: Shipment | None) -> ExcursionLimits:
        """The shipment's profile with its override; the default profile for an unknown one."""
        product = shipment.product if shipment is not None else self.default_product
        profile = self.profiles.get(product)
        if profile is None:
            log.warning("no profile %r; using %r", product, self.default_product)
            profile = self.profiles[self.default_product]
        override = shipment_override(shipment)
        try:
            return limits_for(profile, override)
        except ValueError as exc:
            log.warning("ignoring the override of shipment %s: %s", shipment.id if shipment else "?", exc)
            return limits_for(profile)

    def on_reading(
        self, reading: Reading, shipment_raw: bytes | None, stored_raw: bytes | None, partition: int
    ) -> Step | None:
        """Scores one reading of a bound device; None for an unbound one."""
        if reading.shipment_id is None:
            return None
        shipment_id = reading.shipment_id
        stored = self._load(shipment_id, stored_raw) or StoredState(partition, new_state(shipment_id))
        limits = self.limits(self.decode_shipment(shipment_raw))
        stored.state, events = apply_readings(stored.state, [reading], limits, self.config)
        stored.partition = partition
        return self._step(shipment_id, stored, events)

    def on_tick(
        self, now: datetime, partition: int, shipment_id: str, shipment_raw: bytes | None, stored_raw: bytes
    ) -> Step | None:
        """Checks the shipment's devices for silence at ``now``; None unless it is stored from ``partition``."""
        stored = self._load(shipment_id, stored_raw)
        if stored is None:
            return None
        if stored.partition != partition:
            self._decoded[shipment_id] = (stored_raw, stored)
            return None
        shipment = self.decode_shipment(shipment_raw)
        if shipment is not None and journey_over(shipment, stored.state, now):
            self._decoded[shipment_id] = (stored_raw, stored)
            return Step(stored_raw, [])
        in_air = shipment is not None and likely_in_air(shipment, stored.state)
        stored.state, events = check_silence(stored.state, now, in_air, self.limits(shipment))
        if not events:  # check_silence changes the state only when it opens a silence
            self._decoded[shipment_id] = (stored_raw, stored)
            return Step(stored_raw, events)
        return self._step(shipment_id, stored, events)

    def _load(self, shipment_id: str, raw: bytes | None) -> StoredState | None:
        if raw is None:
            return None
        # Taken out of the cache: the core updates it in place, and until the new bytes are
        # stored, the cached pair would no longer match.
        cached = self._decoded.pop(shipment_id, None)
        if cached is not None and cached[0] is raw:
            return cached[1]
        return _STORED.validate_json(raw)

    def _step(self, shipment_id: str, stored: StoredState, events: list[ExcursionEvent]) -> Step:
        raw = _STORED.dump_json(stored)
        self._decoded[shipment_id] = (raw, stored)
        return Step(raw, events)


def shipment_override(shipment: Shipment | None) -> ProfileOverride | None:
    """The shipment's ``profile_override``, once the shipment schema carries one."""
    override = getattr(shipment, "profile_override", None)
    return override if isinstance(override, ProfileOverride) else None
