"""A shipment as a record of the compacted ``coldchain.shipments`` topic: JSON bytes, keyed by
its id; a tombstone (no value) removes it. Pure: the publisher (``topic``) writes these and
the stream processors read them."""

from __future__ import annotations

import logging

from pydantic import ValidationError

from schemas.shipment import Shipment

log = logging.getLogger(__name__)


def record_key(shipment: Shipment) -> bytes:
    return shipment.id.encode()


def record_value(shipment: Shipment) -> bytes:
    return shipment.model_dump_json().encode()


def shipment_of_record(raw: bytes | None) -> Shipment | None:
    """None for a tombstone or a record that does not parse (logged: the stream goes on)."""
    if raw is None:
        return None
    try:
        return Shipment.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("skipping a shipment that does not parse: %s", exc)
        return None
