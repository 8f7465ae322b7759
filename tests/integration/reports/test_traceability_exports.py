"""EPCIS 2.0 and FSMA 204 exports of a stored shipment, over the API and `coldchain report`,
on the real pipeline (the documents themselves are unit-tested in tests/unit/reports)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook

from services.api.tokens import create_token
from tests.harness.processes import wait_for
from tests.integration.conftest import shipment_body
from tests.integration.reports.test_auditor_exports import coldchain


def _stored(pipeline, device_publisher, db, unique) -> tuple[str, str]:
    shipment_id, device_id = unique("SHP"), unique("TRK")
    body = shipment_body(shipment_id, [device_id], quantity={"value": 480, "unit": "kg"},
                         reference_documents=[{"type": "air waybill", "number": "020-12345675"}])
    with pipeline.http() as http:
        assert http.post("/api/v1/shipments", json=body).status_code == 201
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    device_publisher(device_id).publish(
        f"coldchain/v1/devices/{device_id}/telemetry",
        [{"device_id": device_id, "ts": (start + timedelta(minutes=m)).isoformat(), "temp_c": 2.5 + m / 10,
          "humidity_pct": 90} for m in range(30)])
    wait_for(lambda: db.execute("SELECT count(*) FROM readings WHERE device_id = %s", (device_id,))
             .fetchone() == (30,), 30, "the readings stored")
    return shipment_id, device_id


def test_epcis_and_fsma204_over_the_api(pipeline, device_publisher, db, unique):
    shipment_id, device_id = _stored(pipeline, device_publisher, db, unique)
    with pipeline.http() as http:
        response = http.get(f"/api/v1/shipments/{shipment_id}/epcis", timeout=60)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/ld+json")
        doc = response.json()
        assert (doc["type"], doc["schemaVersion"]) == ("EPCISDocument", "2.0")
        reports = [r for e in doc["epcisBody"]["eventList"] if e["bizStep"] == "sensor_reporting"
                   for el in e["sensorElementList"] for r in el["sensorReport"] if r["type"] == "Temperature"]
        assert min(r["minValue"] for r in reports) == 2.5 and max(r["maxValue"] for r in reports) == 5.4
        assert sum(r["coldchain:sampleCount"] for r in reports) == 30
        # Each span's rawData link returns its readings from the same API.
        [element] = next(e for e in doc["epcisBody"]["eventList"] if e["bizStep"] == "sensor_reporting")[
            "sensorElementList"]
        raw = element["sensorMetadata"]["rawData"]
        linked = http.get(raw[raw.index("/api/v1/"):])
        assert linked.status_code == 200 and device_id in linked.text

        sheet = http.get(f"/api/v1/shipments/{shipment_id}/fsma204", params={"format": "xlsx"})
        assert sheet.status_code == 200
        book = load_workbook(io.BytesIO(sheet.content))
        assert book.active is not None and book.active.freeze_panes == "A2"
        text = http.get(f"/api/v1/shipments/{shipment_id}/fsma204").text
        assert next(csv.reader(io.StringIO(text)))[:2] == ["Critical Tracking Event", "Traceability Lot Code"]
        assert http.get(f"/api/v1/shipments/{unique('NOPE')}/epcis").status_code == 404

    # Another party's exporter does not learn the shipment exists.
    stranger = create_token(pipeline.stack.database_url, "exporter", "Someone Else Ltd.")
    with pipeline.http(stranger) as http:
        assert http.get(f"/api/v1/shipments/{shipment_id}/epcis").status_code == 404
        assert http.get(f"/api/v1/shipments/{shipment_id}/fsma204").status_code == 404


def test_epcis_and_fsma204_from_the_command_line(pipeline, device_publisher, db, unique, tmp_path):
    shipment_id, _ = _stored(pipeline, device_publisher, db, unique)
    out = tmp_path / "events.jsonld"
    result = coldchain(pipeline.stack.database_url, "report", shipment_id, "--format", "epcis", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["type"] == "EPCISDocument"
    sheet = tmp_path / "fsma.xlsx"
    result = coldchain(pipeline.stack.database_url, "report", shipment_id, "--format", "fsma204", "-o", str(sheet))
    assert result.returncode == 0, result.stderr
    assert load_workbook(sheet).active is not None
    refused = coldchain(pipeline.stack.database_url, "report", shipment_id, "--format", "fsma204", "-o",
                        str(tmp_path / "fsma.pdf"))
    assert refused.returncode != 0 and "FILE.csv or FILE.xlsx" in refused.stderr
