"""PATCH and cancel of a registration on the real API and database (contract section 2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import psycopg

from services.api.tokens import create_token
from tests.integration.conftest import Pipeline, shipment_body


def test_a_registration_is_corrected_and_cancelled_each_change_audited(
    pipeline: Pipeline, unique: Callable[[str], str], db: psycopg.Connection,
) -> None:
    shipment_id, device = unique("SHP-FIX"), unique("TRK-FIX")
    body = shipment_body(shipment_id, [device])
    with pipeline.http() as http:
        assert http.post("/api/v1/shipments", json=body).status_code == 201
        later = (datetime.fromisoformat(body["deliver_by"]) + timedelta(hours=6)).isoformat()
        fixed = http.patch(f"/api/v1/shipments/{shipment_id}", json={
            "buyer": {**body["buyer"], "phone": "+8613800000000"}, "deliver_by": later,
            "devices": [device, unique("TRK-FIX2")]})
        assert fixed.status_code == 200, fixed.text
        assert fixed.json()["buyer"]["phone"] == "+8613800000000"
        shown = http.get(f"/api/v1/shipments/{shipment_id}").json()["shipment"]
        assert shown["deliver_by"] == fixed.json()["deliver_by"] and len(shown["devices"]) == 2
        broken = http.patch(f"/api/v1/shipments/{shipment_id}", json={"deliver_by": body["packed_at"]})
        assert broken.status_code == 422
        assert http.patch(f"/api/v1/shipments/{shipment_id}", json={"id": "x"}).status_code == 422
        assert http.patch("/api/v1/shipments/SHP-NOPE-0", json={"deliver_by": later}).status_code == 404
        exporter = create_token(pipeline.stack.database_url, "exporter", body["seller"]["name"])
        assert http.patch(f"/api/v1/shipments/{shipment_id}", json={"deliver_by": later},
                          headers={"Authorization": f"Bearer {exporter}"}).status_code == 403
        cancelled = http.post(f"/api/v1/shipments/{shipment_id}/cancel", json={"reason": "flight missed"})
        assert cancelled.status_code == 200 and cancelled.json()["cancelled_at"]
    bound = db.execute("SELECT count(*) FROM shipment_devices WHERE shipment_id = %s", (shipment_id,)).fetchone()
    assert bound == (2,)
    actions = db.execute("SELECT action FROM audit_log WHERE table_name = 'shipments' AND row_key = %s"
                         " ORDER BY id", (shipment_id,)).fetchall()
    assert [a for (a,) in actions] == ["insert", "update", "update"]
