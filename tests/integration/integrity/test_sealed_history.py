"""Issue 18, sealed history, on the real pipeline: a finished shipment is sealed; a reading whose
time falls into it is refused with the reason and never linked into its chain; a reading that
reaches the database past ingest anyway is named by `coldchain verify`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
from confluent_kafka import Producer

from schemas.reading import Reading, ReadingBatch
from schemas.topics import READINGS
from services.integrity.sealing import SEAL_GRACE, seal_due
from tests.harness.processes import wait_for
from tests.integration.conftest import DevicePublisher, Pipeline, shipment_body
from tests.integration.integrity.test_chain_store import run_verify


def test_a_sealed_shipment_refuses_late_readings_and_verify_names_one_smuggled_in(
    pipeline: Pipeline, device_publisher: Callable[[str], DevicePublisher], unique: Callable[[str], str],
    db: psycopg.Connection, database_url: str,
) -> None:
    shipment_id, device = unique("SHP-SEAL"), unique("TRK-SEAL")
    body = shipment_body(shipment_id, [device])
    packed = datetime.fromisoformat(body["packed_at"])
    with pipeline.http() as http:
        assert http.post("/api/v1/shipments", json=body).status_code == 201
    tracker = device_publisher(device)
    topic = f"coldchain/v1/devices/{device}/telemetry"
    tracker.publish(topic, [{"device_id": device, "ts": (packed + timedelta(minutes=m)).isoformat(), "temp_c": 3.0}
                            for m in range(1, 31)])

    def stored() -> int:
        return int(db.execute("SELECT count(*) FROM readings WHERE shipment_id = %s", (shipment_id,)).fetchone()[0])

    wait_for(lambda: stored() == 30, 45, "the shipment's 30 readings", interval_s=0.3)
    deliver_by = datetime.fromisoformat(body["deliver_by"])
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert seal_due(conn, deliver_by + SEAL_GRACE, only=[shipment_id]) == [shipment_id]
    assert run_verify(database_url, shipment_id).returncode == 0

    # The same tracker (reused, say) sends a reading whose time falls into the sealed shipment.
    late = packed + timedelta(minutes=45)
    tracker.publish(topic, {"device_id": device, "ts": late.isoformat(), "temp_c": 9.0})
    with pipeline.http() as http:
        letters = wait_for(lambda: http.get("/api/v1/deadletters", params={"device": device}).json()["items"], 45,
                           "the refused reading's dead letter", interval_s=0.3)
    assert "sealed" in letters[0]["reason"] and letters[0]["errors"][0]["rule"] == "shipment_sealed"
    assert stored() == 30
    assert run_verify(database_url, shipment_id).returncode == 0

    # Past ingest (straight onto Kafka, as a compromised producer would): the sink stores and
    # links it, and verify says the sealed history changed.
    smuggled = Reading(device_id=device, shipment_id=shipment_id, time=late + timedelta(minutes=1), temp_c=3.1,
                       received_at=datetime.now(UTC))
    producer = Producer({"bootstrap.servers": pipeline.stack.kafka_bootstrap})
    record = ReadingBatch(readings=[smuggled]).model_dump_json().encode()
    producer.produce(READINGS.name, key=shipment_id.encode(), value=record)
    assert producer.flush(10) == 0
    wait_for(lambda: stored() == 31, 45, "the smuggled reading stored", interval_s=0.3)
    found = run_verify(database_url, shipment_id)
    assert found.returncode == 1 and "sealed" in found.stdout, found.stdout
