"""Issue 3 scale-out: a second ingest in the same MQTT 5 shared subscription and a second sink
in the same Kafka consumer group share the load, and the database still holds each reading once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from schemas.topics import PARTITIONS
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


SHIPMENTS = 6
PER_DEVICE = 150  # one-minute samples: 2.5 h of device time per shipment
WARM = range(40, 80)  # minutes at 9 C: one warning excursion each
ALL_PARTITIONS = frozenset(range(PARTITIONS))


def _latest_assignment(service: ServiceProcess) -> str | None:
    """What the worker logged since its latest assignment (aiokafka's "Setting newly assigned
    partitions {...} for group" line, which starts it; None before the first)."""
    log = service.log_tail(5000)
    if "Setting newly assigned partitions" not in log:
        return None
    return log.rsplit("Setting newly assigned partitions", 1)[-1]


def _readings_partitions(service: ServiceProcess) -> frozenset[int] | None:
    """``coldchain.readings`` partitions in the worker's latest assignment (None before the first)."""
    latest = _latest_assignment(service)
    if latest is None:
        return None
    assigned = latest.split("for group", 1)[0]
    return frozenset(int(p) for p in re.findall(r"topic='coldchain\.readings', partition=(\d+)", assigned))


def _settled(service: ServiceProcess) -> bool:
    """The worker's latest assignment recovered its tables and resumed its streams (faust logs
    "Worker ready" after each recovery): a worker that never resumes fails here, by name,
    not later as missing output."""
    latest = _latest_assignment(service)
    return latest is not None and "worker ready" in latest.lower()


def _publish_fleet(pipeline, device_publisher, unique, label: str, start: datetime) -> list[str]:
    """SHIPMENTS shipments, one tracker each, the same samples; returns the shipment ids in order."""
    shipment_ids = []
    for n in range(SHIPMENTS):
        device, shipment_id = unique(f"TRK-{label}{n}"), unique(f"SHP-{label}{n}")
        body = shipment_body(shipment_id, [device])
        body["packed_at"] = (start - timedelta(hours=1)).isoformat()
        with pipeline.http() as http:
            assert http.post("/api/v1/shipments", json=body).status_code == 201
        publisher = device_publisher(device)
        topic = f"coldchain/v1/devices/{device}/telemetry"
        samples = [{"device_id": device, "ts": (start + timedelta(minutes=m)).isoformat(), "humidity_pct": 90.0,
                    "temp_c": 9.0 if m in WARM else 3.0 + n / 10, "lat": 44.88, "lon": -63.5}
                   for m in range(PER_DEVICE)]
        for i in range(0, PER_DEVICE, 10):
            publisher.publish(topic, samples[i:i + 10], wait=False)
        shipment_ids.append(shipment_id)
    return shipment_ids


def _found(db, shipment_ids: list[str]) -> list[list[tuple]] | None:
    """Per shipment, in order: its excursions (without ids), once every one has closed."""
    found = []
    for shipment_id in shipment_ids:
        rows = db.execute("SELECT kind, severity, status, started_at, ended_at, peak_c,"
                          " round(degree_minutes::numeric, 6) FROM excursions WHERE shipment_id = %s"
                          " ORDER BY started_at, kind", (shipment_id,)).fetchall()
        if not rows or any(r[4] is None for r in rows):
            return None
        found.append(rows)
    return found


def _eta_shipments(db, shipment_ids: list[str]) -> set[str]:
    rows = db.execute("SELECT DISTINCT shipment_id FROM eta WHERE shipment_id = ANY(%s)", (shipment_ids,)).fetchall()
    return {r[0] for r in rows}


def _wait_for_eta(db, shipment_ids: list[str], workers: list[ServiceProcess], timeout_s: float) -> None:
    """Every shipment has an ETA row; if not in time, which ones do not, with what the ETA
    workers and the sink warned about (a CI failure is otherwise only "timed out")."""
    try:
        wait_for(lambda: _eta_shipments(db, shipment_ids) == set(shipment_ids), timeout_s, "ETA rows", interval_s=0.5)
    except AssertionError:
        missing = set(shipment_ids) - _eta_shipments(db, shipment_ids)
        notes = {w.name: [line for line in w.log_tail(3000).splitlines()
                          if "[warning" in line or "[error" in line or "Worker ready" in line][-12:]
                 for w in workers}
        raise AssertionError(f"no ETA row after {timeout_s}s for {sorted(missing)}; "
                             f"alive: {[w.name for w in workers if w.alive()]}; log lines: {notes}") from None


def test_two_workers_of_each_processor_find_what_one_finds(pipeline, device_publisher, db, unique, artifacts):
    """The same input through one excursions and one eta worker, then through two of each (in
    the same faust app, so the same consumer group and changelog topics), gives the same
    excursions; and each of the two workers holds a share of the readings' partitions."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=4)
    single = _publish_fleet(pipeline, device_publisher, unique, "ONE", start)
    by_one = wait_for(lambda: _found(db, single), 120, "the single workers' excursions", interval_s=0.5)
    _wait_for_eta(db, single, [pipeline.services["eta"], pipeline.services["sink"]], 120)

    base_env = pipeline.services["excursions"].env
    data = artifacts / "faust-second-workers"
    extra = {name: ServiceProcess(module, {**base_env, f"COLDCHAIN_{name.upper()}_DATA_DIR": str(data / name)},
                                  artifacts / "logs", name=f"{name}-2")
             for name, module in (("excursions", "services.excursions.main"), ("eta", "services.eta.app"))}
    data.mkdir(parents=True, exist_ok=True)
    try:
        for service in extra.values():
            service.start()
        for name, service in extra.items():
            wait_for(service.ready, 120, f"the second {name} worker", interval_s=0.3)
            for worker in (pipeline.services[name], service):  # both hold a share, neither all of it
                wait_for(lambda w=worker: _readings_partitions(w) not in (None, frozenset(), ALL_PARTITIONS), 60,
                         f"{worker.name}'s share of coldchain.readings", interval_s=0.5)
                wait_for(lambda w=worker: _settled(w), 180, f"{worker.name}'s recovery of its tables", interval_s=0.5)
        pair = _publish_fleet(pipeline, device_publisher, unique, "TWO", start)
        by_two = wait_for(lambda: _found(db, pair), 120, "the paired workers' excursions", interval_s=0.5)
        _wait_for_eta(db, pair, [pipeline.services["eta"], extra["eta"], pipeline.services["sink"]], 120)
        assert all(service.alive() for service in extra.values())
    finally:
        for service in extra.values():
            service.stop()
    assert by_two == by_one
    assert all(rows[0][:5] == ("temp_high", "warning", "closed", start + timedelta(minutes=WARM.start),
                               start + timedelta(minutes=WARM.stop)) for rows in by_one)
