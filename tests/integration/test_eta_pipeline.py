"""Issue 5 on the real stack: fixes and temperatures over MQTT become ETA and viability updates.

A box is trucked from the packing plant to YHZ for a booked flight; its tracker reports live.
The ETA follows the booking (the flight's STA plus the last mile), is written to the ``eta``
history and shown by the API. Then the tracker's backlog shows the box sat warm on the
tarmac: the viability budget runs out before the ETA and an "at risk" update follows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.harness.processes import wait_for
from tests.integration.conftest import shipment_body

PLANT = {"name": "Halifax packing plant", "lat": 44.6488, "lon": -63.5752}
YHZ = {"name": "Halifax Stanfield (YHZ)", "lat": 44.8808, "lon": -63.5086, "mode": "road"}


def _route(packed: datetime) -> dict:
    std = packed + timedelta(hours=6)
    sta = std + timedelta(hours=15, minutes=30)
    flight = {"name": "Shanghai Pudong (PVG)", "lat": 31.1443, "lon": 121.8083, "mode": "air",
              "scheduled_departure": std.isoformat(), "scheduled_arrival": sta.isoformat()}
    return {"origin": PLANT, "waypoints": [YHZ, flight],
            "destination": {"name": "Hangzhou buyer warehouse", "lat": 30.2741, "lon": 120.1551, "mode": "road"}}


def _at_yhz(device_id: str, start: datetime, minutes: range, temp_c: float) -> list[dict]:
    return [{"device_id": device_id, "ts": (start + timedelta(minutes=m)).isoformat(), "temp_c": temp_c,
             "lat": YHZ["lat"] + 0.001 * (m % 3), "lon": YHZ["lon"]} for m in minutes]


def test_eta_follows_the_booking_and_a_warm_backlog_puts_the_shipment_at_risk(
        pipeline, device_publisher, db, unique):
    device, shipment_id = unique("TRK-ETA"), unique("SHP-ETA")
    packed = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    body = {**shipment_body(shipment_id, [device]), **_route(packed), "packed_at": packed.isoformat(),
            "deliver_by": (packed + timedelta(hours=40)).isoformat()}
    with pipeline.http() as http:
        assert http.post("/api/v1/shipments", json=body).status_code == 201

    publisher = device_publisher(device)
    topic = f"coldchain/v1/devices/{device}/telemetry"
    arrived = packed + timedelta(hours=1)
    publisher.publish(topic, _at_yhz(device, arrived, range(0, 60, 5), 2.5))

    def updates(kind: str) -> list[tuple]:
        return db.execute("SELECT eta, phase, leg_index, at_risk, risk_reasons, viability_remaining_at_eta_h"
                          " FROM eta WHERE shipment_id = %s AND kind = %s ORDER BY time",
                          (shipment_id, kind)).fetchall()

    first = wait_for(lambda: updates("eta") or None, 90, "an ETA row", interval_s=0.5)[-1]
    sta = datetime.fromisoformat(body["waypoints"][1]["scheduled_arrival"])
    eta, phase, leg_index, at_risk, _, _ = first
    # Dwelling at YHZ for the booked flight: the ETA is the STA plus PVG handling and the truck.
    assert (phase, leg_index, at_risk) == ("dwelling", 1, False)
    assert sta + timedelta(hours=4) < eta < sta + timedelta(hours=8)

    with pipeline.http() as http:
        status = http.get(f"/api/v1/shipments/{shipment_id}").json()
    assert status["eta"] is not None
    assert datetime.fromisoformat(status["eta"]["eta"]) == eta

    # The backlog: two hours on the tarmac at 24 C burns the survival budget many times faster.
    publisher.publish(topic, _at_yhz(device, arrived + timedelta(hours=1), range(0, 120, 5), 24.0))
    risk = wait_for(lambda: updates("at_risk") or None, 90, "an at-risk update", interval_s=0.5)[-1]
    assert risk[3] is True and "viability" in risk[4]
    assert risk[5] < 0
