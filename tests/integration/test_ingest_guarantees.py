"""Issue 3: no loss, no duplicates, nothing invented — also across SIGKILLs of ingest and sink."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.harness.processes import wait_for
from tests.integration.conftest import shipment_body

DEVICES = 8
READINGS = 10_000
DUPLICATE_SHARE = 0.05
MALFORMED_SHARE = 0.02


def _fleet_traffic(device_ids: list[str], seed: int) -> tuple[list[tuple[str, bytes]], set[tuple[str, datetime]], int]:
    """(topic, payload) messages in publish order, the unique valid readings, the malformed count."""
    rnd = random.Random(seed)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    per_device = READINGS // len(device_ids)
    samples = [
        {"device_id": device, "ts": (start + timedelta(minutes=i)).isoformat(), "seq": i,
         "temp_c": round(rnd.uniform(0.5, 4.5), 2), "humidity_pct": round(rnd.uniform(75, 95), 1)}
        for device in device_ids for i in range(per_device)
    ]
    expected = {(s["device_id"], datetime.fromisoformat(s["ts"])) for s in samples}
    samples += rnd.sample(samples, int(len(samples) * DUPLICATE_SHARE))
    rnd.shuffle(samples)
    messages: list[tuple[str, bytes]] = []
    by_device: dict[str, list[dict]] = {}
    for sample in samples:
        by_device.setdefault(sample["device_id"], []).append(sample)
    for device, own in by_device.items():
        topic = f"coldchain/v1/devices/{device}/telemetry"
        while own:
            size = rnd.choice([1, 1, 5, 20, 60])
            batch, own = own[:size], own[size:]
            messages.append((topic, json.dumps(batch[0] if size == 1 else batch).encode()))
    malformed = int(READINGS * MALFORMED_SHARE)
    for n in range(malformed):
        device = rnd.choice(device_ids)
        bad = rnd.choice([
            json.dumps({"device_id": device, "ts": (start + timedelta(seconds=n)).isoformat(), "temp_c": 99 + n}),
            json.dumps({"device_id": device, "temp_c": 3, "n": n}),
            f"not json {n}",
            json.dumps({"device_id": device, "ts": (start + timedelta(seconds=n)).isoformat(), "lat": 44.0, "n": n}),
        ])
        messages.append((f"coldchain/v1/devices/{device}/telemetry", bad.encode()))
    rnd.shuffle(messages)
    return messages, expected, malformed


def _register(pipeline, shipment_id: str, devices: list[str]) -> None:
    body = shipment_body(shipment_id, devices)
    body["packed_at"] = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    body["deliver_by"] = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    with pipeline.http() as http:
        assert http.post("/api/v1/shipments", json=body).status_code == 201


def _stored(db, devices: list[str]) -> tuple[int, set[tuple[str, datetime]], int]:
    rows = db.execute("SELECT device_id, time FROM readings WHERE device_id = ANY(%s)", (devices,)).fetchall()
    letters = db.execute("SELECT count(*) FROM dead_letters WHERE device_id = ANY(%s)", (devices,)).fetchone()
    return len(rows), set(rows), letters[0]


@pytest.mark.parametrize("crash", [False, True], ids=["steady", "sigkill-ingest-and-sink"])
def test_exactly_the_unique_valid_readings_are_stored(pipeline, device_publisher, db, unique, crash):
    devices = [unique(f"TRK{n}") for n in range(DEVICES)]
    shipment_id = unique("SHP")
    _register(pipeline, shipment_id, devices)
    messages, expected, malformed = _fleet_traffic(devices, seed=7 if crash else 3)
    publishers = {d: device_publisher(d) for d in devices}

    kill_points = {len(messages) // 3: "ingest", 2 * len(messages) // 3: "sink"} if crash else {}
    pending = []
    for n, (topic, payload) in enumerate(messages):
        if n in kill_points:
            time.sleep(0.2)  # let some records be in flight at the kill
            pipeline.restart(kill_points[n], kill=True)
        pending.append(publishers[topic.split("/")[3]].publish(topic, payload, wait=False))
    for info in pending:
        info.wait_for_publish(30)

    count, stored, letters = wait_for(
        lambda: (s := _stored(db, devices))[0] >= len(expected) and s[2] >= malformed and s,
        90, f"{len(expected)} readings and {malformed} dead letters")
    time.sleep(1.0)  # anything extra (a duplicate) would land now
    count, stored, letters = _stored(db, devices)
    assert count == len(expected)
    assert stored == expected
    assert letters == malformed
    bound = db.execute("SELECT count(*) FROM readings WHERE device_id = ANY(%s) AND shipment_id = %s",
                       (devices, shipment_id)).fetchone()
    assert bound == (len(expected),)


def test_a_device_cannot_publish_as_another(pipeline, device_publisher, db, unique):
    mallory, victim = unique("TRK-M"), unique("TRK-V")
    publisher = device_publisher(mallory)
    device_publisher(victim)  # the victim exists and has an account
    now = datetime.now(UTC).replace(microsecond=0)
    forged = {"device_id": victim, "ts": now.isoformat(), "temp_c": 25.0}
    publisher.publish(f"coldchain/v1/devices/{victim}/telemetry", forged)
    publisher.publish(f"coldchain/v1/devices/{mallory}/telemetry", {**forged, "device_id": mallory})
    # Mallory's own reading was published after the forged one, on the same connection.
    wait_for(lambda: db.execute("SELECT 1 FROM readings WHERE device_id = %s", (mallory,)).fetchone(), 10,
             "the device's own reading")
    time.sleep(0.5)
    assert db.execute("SELECT count(*) FROM readings WHERE device_id = %s", (victim,)).fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM dead_letters WHERE device_id = %s", (victim,)).fetchone() == (0,)
