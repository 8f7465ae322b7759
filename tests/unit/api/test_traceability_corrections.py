"""Corrections of what the traceability exports and the webhook channel read."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.shipment import ShipmentPatch
from services.registry.postgres import corrected
from tests.unit.api.test_corrections import NOW, registered

HOOK = {"url": "https://hooks.buyer.example/coldchain", "secret_ref": "hangzhou-fresh"}


def test_quantity_documents_and_a_webhook_are_added_after_packing() -> None:
    before = registered()
    patch = ShipmentPatch.model_validate({
        "quantity": {"value": 480, "unit": "kg"},
        "reference_documents": [{"type": "air waybill", "number": "020-12345675"}],
        "buyer": {**before.buyer.model_dump(mode="json", exclude_none=True), "webhook": HOOK},
    })
    after = corrected(before, patch, NOW)
    assert (after.quantity and after.quantity.value, after.reference_documents[0].number) == (480, "020-12345675")
    assert after.buyer.webhook is not None and after.buyer.webhook.secret_ref == "hangzhou-fresh"
    assert after.seller == before.seller and after.updated_at == NOW


def test_a_plain_http_webhook_is_refused() -> None:
    with pytest.raises(ValidationError, match="https"):
        ShipmentPatch.model_validate({"buyer": {"name": "B", "webhook": {**HOOK, "url": "http://hooks.example/x"}}})
