"""Issue 4 on the real stack: MQTT -> ingest -> Kafka -> faust -> Kafka -> sink -> TimescaleDB.

Two trackers in one box record the same tarmac delay; one uploads live and in order, the other
dumps its backlog as shuffled batches with the excursion processor killed in the middle. Both
must give the same single warning excursion, with the device's times.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tests.harness.processes import wait_for
from tests.integration.conftest import shipment_body


def _tarmac_delay(device_id: str, start: datetime) -> list[dict]:
    """90 one-minute samples: 3 C, then 40 minutes at 9 C (minutes 30-69), then 3 C again."""
    return [{"device_id": device_id, "ts": (start + timedelta(minutes=m)).isoformat(),
             "temp_c": 9.0 if 30 <= m < 70 else 3.0, "humidity_pct": 90.0} for m in range(90)]


def test_same_excursion_whatever_the_arrival_order_and_a_processor_crash(pipeline, device_publisher, db, unique):
    live, backlog = unique("TRK-LIVE"), unique("TRK-BACKLOG")
    shipment_id = unique("SHP")
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    body = shipment_body(shipment_id, [live, backlog])
    body["packed_at"] = (start - timedelta(hours=1)).isoformat()
    with pipeline.http() as http:
        assert http.post("/api/v1/shipments", json=body).status_code == 201

    live_pub, backlog_pub = device_publisher(live), device_publisher(backlog)
    for sample in _tarmac_delay(live, start):
        live_pub.publish(f"coldchain/v1/devices/{live}/telemetry", sample, wait=False)

    samples = _tarmac_delay(backlog, start)
    random.Random(11).shuffle(samples)
    batches = [samples[i:i + 15] for i in range(0, len(samples), 15)]
    topic = f"coldchain/v1/devices/{backlog}/telemetry"
    for n, batch in enumerate(batches):
        if n == len(batches) // 2:
            pipeline.restart("excursions", kill=True)
        backlog_pub.publish(topic, batch)

    def closed_excursions():
        rows = db.execute(
            "SELECT device_id, kind, severity, started_at, ended_at, peak_c FROM excursions"
            " WHERE shipment_id = %s AND status <> 'retracted' ORDER BY device_id", (shipment_id,)).fetchall()
        return rows if len(rows) == 2 and all(r[4] is not None for r in rows) else None

    rows = wait_for(closed_excursions, 120, "two closed excursions", interval_s=0.5)
    expected = ("temp_high", "warning", start + timedelta(minutes=30), start + timedelta(minutes=70), 9.0)
    assert {r[0] for r in rows} == {live, backlog}
    for row in rows:
        assert row[1:] == expected, row
    assert db.execute("SELECT count(*) FROM readings WHERE shipment_id = %s", (shipment_id,)).fetchone() == (180,)

    with pipeline.http() as http:
        listed = http.get(f"/api/v1/shipments/{shipment_id}/excursions").json()
    assert sorted(e["device_id"] for e in listed) == sorted([live, backlog])
    assert all(e["ended_at"] is not None and e["degree_minutes"] > 0 for e in listed)
