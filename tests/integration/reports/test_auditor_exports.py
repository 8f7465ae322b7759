"""An auditor's view of a shipment on the real pipeline: readings published over MQTT come
back one for one in the CSV export (API and `coldchain report`), the PDF report renders
from the stored shipment, `coldchain verify` holds until a plain-SQL change, and the
registration is in the append-only audit log."""

from __future__ import annotations

import csv
import io
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from pypdf import PdfReader

from tests.harness.processes import wait_for
from tests.integration.conftest import shipment_body

READINGS = 600


def coldchain(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLDCHAIN_DATABASE_URL": database_url, "COLUMNS": "250"},
                          check=False)


def test_published_readings_come_back_one_for_one(pipeline, device_publisher, db, unique, tmp_path):
    shipment_id, device_id = unique("SHP"), unique("TRK")
    with pipeline.http() as http:
        assert http.post("/api/v1/shipments", json=shipment_body(shipment_id, [device_id])).status_code == 201

    # A store-and-forward backlog, shuffled, with values that do not survive sloppy formatting.
    rng = random.Random(7)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    sent = [{"device_id": device_id, "ts": (start + timedelta(seconds=5 * i, microseconds=1234 * i)).isoformat(),
             "seq": i, "temp_c": round(rng.uniform(-1.5, 12.5), 3), "humidity_pct": rng.uniform(60, 99),
             "lat": 44.88 + i / 1e5, "lon": -63.5 - i / 1e5} for i in range(READINGS)]
    backlog = sent[:]
    rng.shuffle(backlog)
    publisher = device_publisher(device_id)
    topic = f"coldchain/v1/devices/{device_id}/telemetry"
    for i in range(0, READINGS, 50):
        publisher.publish(topic, backlog[i:i + 50])
    publisher.publish(topic, backlog[:10])  # redelivered: stored once
    wait_for(lambda: db.execute("SELECT count(*) FROM readings WHERE device_id = %s", (device_id,))
             .fetchone() == (READINGS,), 30, "every reading stored")

    expected = [(datetime.fromisoformat(s["ts"]), s["seq"], s["temp_c"], s["humidity_pct"], s["lat"], s["lon"])
                for s in sent]
    with pipeline.http() as http:
        api_csv = http.get(f"/api/v1/shipments/{shipment_id}/readings", params={"format": "csv"}).text
    assert parsed(api_csv, shipment_id, device_id) == expected

    out = tmp_path / "history.csv"
    result = coldchain(pipeline.stack.database_url, "report", shipment_id, "--format", "csv", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert parsed(out.read_text(), shipment_id, device_id) == expected

    # A time window and a device filter.
    window = coldchain(pipeline.stack.database_url, "report", shipment_id, "--format", "json", "--device",
                       device_id, "--from", sent[100]["ts"], "--to", sent[200]["ts"])
    assert window.returncode == 0, window.stderr
    assert window.stdout.count('"seq"') == 100

    # Tamper evidence over what the sink chained, as readings arrived shuffled.
    intact = coldchain(pipeline.stack.database_url, "verify", shipment_id)
    assert intact.returncode == 0 and f"intact {device_id}: {READINGS} readings" in intact.stdout, intact.stdout
    changed = expected[321][0]
    db.execute("UPDATE readings SET temp_c = temp_c - 2 WHERE device_id = %s AND time = %s", (device_id, changed))
    tampered = coldchain(pipeline.stack.database_url, "verify", shipment_id)
    assert tampered.returncode == 1
    assert f"reading {device_id} at {changed.isoformat()} differs" in tampered.stdout, tampered.stdout


def parsed(text: str, shipment_id: str, device_id: str) -> list[tuple[object, ...]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["shipment_id"] for r in rows} == {shipment_id} and {r["device_id"] for r in rows} == {device_id}
    return [(datetime.fromisoformat(r["time"]), int(r["seq"]), float(r["temp_c"]), float(r["humidity_pct"]),
             float(r["lat"]), float(r["lon"])) for r in rows]


def test_pdf_report_and_audit_log_over_the_api(pipeline, device_publisher, db, unique):
    shipment_id, device_id = unique("SHP"), unique("TRK")
    with pipeline.http() as http:
        assert http.post("/api/v1/shipments", json=shipment_body(shipment_id, [device_id])).status_code == 201
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    device_publisher(device_id).publish(
        f"coldchain/v1/devices/{device_id}/telemetry",
        [{"device_id": device_id, "ts": (start + timedelta(minutes=m)).isoformat(), "temp_c": 2.5 + m / 10,
          "humidity_pct": 90} for m in range(30)])
    wait_for(lambda: db.execute("SELECT count(*) FROM readings WHERE device_id = %s", (device_id,))
             .fetchone() == (30,), 30, "the readings stored")

    with pipeline.http() as http:
        response = http.get(f"/api/v1/shipments/{shipment_id}/report.pdf", timeout=60)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(response.content)).pages)
        assert f"shipment {shipment_id}" in text
        assert f"{device_id} 30 2.50 5.40 3.95" in text  # readings, min, max, mean
        assert http.get(f"/api/v1/shipments/{unique('NOPE')}/report.pdf").status_code == 404

        log = http.get("/api/v1/audit", params={"table": "shipments", "key": shipment_id}).json()
    assert [(e["action"], e["new"]["id"]) for e in log] == [("insert", shipment_id)]
    assert log[0]["actor"].startswith("ops:")


def test_the_audit_log_refuses_change(db):
    db.execute("INSERT INTO audit_log (actor, action, table_name) VALUES ('test', 'insert', 'test')")
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            db.execute(statement)
