"""Glue between the stream and the pure core, with no Kafka or faust in it.

The faust agents in ``services.excursions.app`` hand raw message values and table values
(bytes) to ``ExcursionProcessor`` and apply or send what comes back; this module decodes,
picks the shipment's limits, calls ``scoring`` and lays the state out again (``storage``).
The silence timer's tick for partition p only touches shipments stored from p, so every
table write goes to the changelog partition that owns the key.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from schemas.excursion import ExcursionEvent, ExcursionLimits
from schemas.reading_wire import ReadingLike
from schemas.shipment import Shipment
from services.excursions.flight import likely_in_air
from services.excursions.journey import journey_over
from services.excursions.scoring import DEFAULT_CONFIG, ScoringConfig, apply_each, check_silence, new_state
from services.excursions.storage import (
    Decoded,
    MissingSegment,
    ReadValue,
    StoredState,
    is_header_key,
    keep,
    keys_of,
    read_state,
    write,
)
from services.profiles.model import ProductProfile
from services.registry.limits import DEFAULT_PRODUCT, ProfileCatalog, limits_of
from services.registry.record import shipment_of_record

log = logging.getLogger(__name__)

SHIPMENT_CACHE_SIZE = 10_000  # shipments kept decoded; a miss only costs decoding one again


@dataclass(frozen=True, slots=True)
class StateChange:
    """What to apply to the state table, in order, and the events to publish."""

    puts: list[tuple[str, bytes]]
    deletes: list[str]
    events: list[ExcursionEvent]


class ExcursionProcessor:
    def __init__(
        self,
        profiles: Mapping[str, ProductProfile],
        default_product: str = DEFAULT_PRODUCT,
        config: ScoringConfig = DEFAULT_CONFIG,
    ) -> None:
        self.catalog = ProfileCatalog(profiles, default_product)
        self.config = config
        # Each device's state as last decoded or encoded, with the header bytes it came from
        # (storage.Decoded). Sealed segments' bodies are not held (storage.write unloads them).
        self._decoded: Decoded = {}
        # Each shipment's record as last decoded, with its limits: validating a shipment
        # (e-mail addresses and all) for every reading was a fifth of the worker's time.
        self._shipments: OrderedDict[str, tuple[bytes, Shipment | None, ExcursionLimits]] = OrderedDict()

    def limits(self, shipment: Shipment | None) -> ExcursionLimits:
        """The shipment's limits, by the registry's one rule (``services.registry.limits``)."""
        return limits_of(shipment, self.catalog)

    def on_readings(
        self,
        readings: Sequence[ReadingLike],
        shipment_raw: bytes | None,
        stored_raw: bytes | None,
        partition: int,
        read: ReadValue,
    ) -> StateChange | None:
        """Scores a batch of one shipment's readings; None for an unbound batch or when lost
        history left none of them scored.

        One step, so the state is written once for the batch. ``read`` gets a table value by
        key: the state's segments, when late data needs them.
        """
        if not readings or readings[0].shipment_id is None:
            return None
        shipment_id = readings[0].shipment_id
        stored = self._load(stored_raw, read) or StoredState(partition, new_state(shipment_id))
        _, limits = self._shipment(shipment_id, shipment_raw)
        # Reading by reading, as they arrived: scored together, an excursion that opens and
        # closes within the batch would be told only as closed (the core reports the state a
        # batch leaves), and nobody would hear that it opened. A message's late readings are
        # the exception (apply_each): re-scored together, once.
        unscored: list[tuple[ReadingLike, LookupError]] = []
        stored.state, events = apply_each(stored.state, readings, limits, self.config, unscored)
        for reading, exc in unscored:  # the sink still stores them
            if not isinstance(exc, MissingSegment):
                raise exc
            log.error("not scoring a reading of shipment %s: %s", shipment_id, exc,
                      extra={"shipment_id": shipment_id, "device_id": reading.device_id})
        scored = len(readings) - len(unscored)
        if not scored:
            return None
        stored.partition = partition
        return self._step(stored, events, read)

    def on_tick(
        self,
        now: datetime,
        partition: int,
        shipment_id: str,
        shipment_raw: bytes | None,
        stored_raw: bytes,
        read: ReadValue,
    ) -> StateChange | None:
        """Checks the shipment's devices for silence at ``now``; None unless that changes the state.

        Only shipments stored from ``partition`` are checked.
        """
        stored = self._load(stored_raw, read)
        if stored is None:
            return None
        events: list[ExcursionEvent] = []
        if stored.partition == partition:
            shipment, limits = self._shipment(shipment_id, shipment_raw)
            if shipment is None or not journey_over(shipment, stored.state, now):
                in_air = shipment is not None and likely_in_air(shipment, stored.state)
                stored.state, events = check_silence(stored.state, now, in_air, limits)
        if not events:  # check_silence changes the state only when it opens a silence
            keep(stored, self._decoded)
            return None
        return self._step(stored, events, read)

    def keys_to_delete(self, shipment_id: str, stored_raw: bytes | None, read: ReadValue) -> list[str]:
        """Every key of the shipment's state: for a shipment that was deleted."""
        stored = self._load(stored_raw, read)
        return keys_of(stored) if stored is not None else []

    @staticmethod
    def is_state_key(key: str) -> bool:
        """True for a shipment's header, false for the segments stored beside it."""
        return is_header_key(key)

    def _shipment(self, shipment_id: str, raw: bytes | None) -> tuple[Shipment | None, ExcursionLimits]:
        if raw is None:
            return None, self.limits(None)
        cached = self._shipments.get(shipment_id)
        if cached is not None and cached[0] == raw:
            self._shipments.move_to_end(shipment_id)
            return cached[1], cached[2]
        shipment = shipment_of_record(raw)
        limits = self.limits(shipment)
        self._shipments[shipment_id] = (raw, shipment, limits)
        if len(self._shipments) > SHIPMENT_CACHE_SIZE:
            self._shipments.popitem(last=False)
        return shipment, limits

    def _load(self, raw: bytes | None, read: ReadValue) -> StoredState | None:
        return read_state(raw, read, self._decoded) if raw is not None else None

    def _step(self, stored: StoredState, events: list[ExcursionEvent], read: ReadValue) -> StateChange:
        writes = write(stored, read, self._decoded)
        return StateChange(writes.puts, writes.deletes, events)

