"""Issue 3 scale-out: a second ingest in the same MQTT 5 shared subscription and a second sink
in the same Kafka consumer group share the load, and the database still holds each reading once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from services.ingest.session import end_session
from tests.harness.processes import ServiceProcess, free_port, wait_for
from tests.integration.conftest import shipment_body

READINGS = 1500


def _received(metrics_url: str) -> float:
    text = httpx.get(metrics_url, timeout=5).text
    match = re.search(r"^coldchain_ingest_messages_received_total (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_two_ingests_and_two_sinks_share_the_load(pipeline, device_publisher, db, unique, artifacts):
    base_env = pipeline.services["ingest"].env
    metrics_port = free_port()
    second_ingest = ServiceProcess("services.ingest.main", {
        **base_env,
        "COLDCHAIN_INGEST_CLIENT_ID": base_env["COLDCHAIN_INGEST_CLIENT_ID"] + "-2",
        "COLDCHAIN_INGEST_METRICS_PORT": str(metrics_port),
    }, artifacts / "logs", name="ingest-2").start()
    second_sink = ServiceProcess("services.sink.main", base_env, artifacts / "logs", name="sink-2").start()
    try:
        wait_for(lambda: "subscribed to" in second_ingest.log_tail(50), 30, "the second ingest's subscription")
        device, shipment_id = unique("TRK-SCALE"), unique("SHP-SCALE")
        with pipeline.http() as http:
            assert http.post("/api/v1/shipments", json=shipment_body(shipment_id, [device])).status_code == 201
        publisher = device_publisher(device)
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        topic = f"coldchain/v1/devices/{device}/telemetry"
        infos = [publisher.publish(topic, {"device_id": device, "ts": (start + timedelta(seconds=n)).isoformat(),
                                           "temp_c": 3.0}, wait=False) for n in range(READINGS)]
        for info in infos:
            info.wait_for_publish(30)
        wait_for(lambda: db.execute("SELECT count(*) FROM readings WHERE device_id = %s AND shipment_id = %s",
                                    (device, shipment_id)).fetchone()[0] >= READINGS, 120, "every reading")
        assert db.execute("SELECT count(*), count(DISTINCT time) FROM readings WHERE device_id = %s",
                          (device,)).fetchone() == (READINGS, READINGS)
        share = _received(f"http://127.0.0.1:{metrics_port}/metrics")
        assert 0 < share < READINGS, f"the second ingest took {share} of {READINGS} messages"
        assert second_sink.alive()
    finally:
        second_ingest.stop()
        second_sink.stop()
        # Otherwise its offline session keeps taking a share of later tests' messages.
        end_session(base_env["COLDCHAIN_MQTT_URL"], base_env["COLDCHAIN_INGEST_CLIENT_ID"] + "-2")
