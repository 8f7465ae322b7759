"""Registration corrections and cancels (pure): the merged registration obeys every rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from schemas.shipment import Shipment, ShipmentCancel, ShipmentPatch
from services.registry.postgres import corrected
from tests.unit.alerts.factories import shipment

NOW = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)


def registered() -> Shipment:
    base = shipment()
    return Shipment(**base.model_dump(), created_at=NOW - timedelta(hours=8))


def test_a_wrong_buyer_phone_is_corrected_and_its_zone_worked_out_again() -> None:
    before = registered()
    patch = ShipmentPatch.model_validate({"buyer": {"name": before.buyer.name, "phone": "+8613800000000"}})
    after = corrected(before, patch, NOW)
    assert after.buyer.phone == "+8613800000000" and after.seller == before.seller
    assert after.party_zones is not None and after.party_zones.buyer.timezone == "Asia/Shanghai"
    assert after.updated_at == NOW and after.created_at == before.created_at


def test_a_correction_that_breaks_a_rule_is_refused_naming_it() -> None:
    before = registered()
    with pytest.raises(ValidationError, match="deliver_by must be after packed_at"):
        corrected(before, ShipmentPatch(deliver_by=before.packed_at - timedelta(hours=1)), NOW)
    with pytest.raises(ValidationError):
        ShipmentPatch.model_validate({"id": "another"})  # the id is not correctable


def test_a_cancel_is_kept_once_with_its_reason() -> None:
    cancelled = corrected(registered(), ShipmentCancel(reason="flight missed, boxes returned"), NOW)
    assert cancelled.cancelled_at == NOW and cancelled.cancel_reason == "flight missed, boxes returned"
    again = corrected(cancelled, ShipmentCancel(reason="twice"), NOW + timedelta(hours=1))
    assert again.cancelled_at == NOW and again.cancel_reason == "flight missed, boxes returned"
