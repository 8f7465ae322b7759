"""Foundation: a shipment registered over HTTP, a reading published over MQTT by its device,
found in TimescaleDB with its shipment id."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tests.harness.processes import wait_for
from tests.integration.conftest import shipment_body


def test_reading_lands_in_timescaledb_with_its_shipment(pipeline, device_publisher, db, unique):
    shipment_id, device_id = unique("SHP"), unique("TRK")
    with pipeline.http() as http:
        created = http.post("/api/v1/shipments", json=shipment_body(shipment_id, [device_id]))
        assert created.status_code == 201, created.text
        assert http.post("/api/v1/shipments", json=shipment_body(shipment_id, [device_id])).status_code == 409

    sample_time = datetime.now(UTC).replace(microsecond=0)
    publisher = device_publisher(device_id)
    started = time.monotonic()
    publisher.publish(f"coldchain/v1/devices/{device_id}/telemetry",
                      {"device_id": device_id, "ts": sample_time.isoformat(), "temp_c": 3.4, "humidity_pct": 91})

    row = wait_for(lambda: db.execute(
        "SELECT time, shipment_id, temp_c, humidity_pct FROM readings WHERE device_id = %s", (device_id,)
    ).fetchone(), 10, "the reading in TimescaleDB")
    print(f"publish -> row in TimescaleDB: {time.monotonic() - started:.3f}s")
    assert row == (sample_time, shipment_id, 3.4, 91.0)

    with pipeline.http() as http:
        status = http.get(f"/api/v1/shipments/{shipment_id}").json()
    assert status["last_reading"]["temp_c"] == 3.4


def test_refused_payload_is_kept_with_its_reason(pipeline, device_publisher, db, unique):
    device_id = unique("TRK")
    publisher = device_publisher(device_id)
    publisher.publish(f"coldchain/v1/devices/{device_id}/telemetry",
                      {"device_id": device_id, "ts": "2026-11-09T18:00:00Z", "temp_c": 120})
    reason = wait_for(lambda: db.execute(
        "SELECT reason FROM dead_letters WHERE device_id = %s", (device_id,)).fetchone(), 10, "the dead letter")
    assert "temp_c" in reason[0] and "80" in reason[0]
    assert db.execute("SELECT count(*) FROM readings WHERE device_id = %s", (device_id,)).fetchone() == (0,)


def test_bad_registration_names_the_field(pipeline, unique):
    body = shipment_body(unique("SHP"), ["TRK-1"])
    body["origin"]["lat"] = 123
    with pipeline.http() as http:
        response = http.post("/api/v1/shipments", json=body)
    assert response.status_code == 422
    assert any(err["loc"][-2:] == ["origin", "lat"] for err in response.json()["errors"])
