"""Issue 19 on the real pipeline: the trip registered exactly as the contract shows it (no time
zones), a tarmac warning and then a freeze in flight, uploaded as a shuffled backlog after
landing, with quiet hours in force all day in both parties' zones: the freeze reaches the seller
and the buyer by SMS and email within 90 s, the warning waits, visibly scheduled."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from schemas.topics import ETA, EXCURSIONS
from services.kafka.groups import commit_log_end
from tests.component.alerts.local_servers import HttpScript, SmtpInbox, free_port, http_server, smtp_server
from tests.conftest import ARTIFACTS
from tests.harness.processes import ServiceProcess, wait_for
from tests.integration.conftest import DevicePublisher, Pipeline

WITHIN_S = 90
SELLER = {"name": "Shediac Lobster Co.", "email": "ops@seller.example", "phone": "+19025550100"}
BUYER = {"name": "Hangzhou Fresh Ltd.", "email": "qa@buyer.example", "phone": "+8657155500100"}


@pytest.fixture(scope="module")
def night_alerts(pipeline: Pipeline) -> Iterator[tuple[SmtpInbox, HttpScript, int]]:
    """The alert service with quiet hours from 00:00 to 23:59 in every recipient's zone: what
    ever the wall clock says when this runs, it is night for both parties."""
    inbox, sms = SmtpInbox(), HttpScript(default=(202, {"id": "gw"}))
    metrics_port = free_port()
    group_id = f"coldchain-alerts-night-{uuid.uuid4().hex[:8]}"
    commit_log_end(pipeline.stack.kafka_bootstrap, group_id, [EXCURSIONS.name, ETA.name])
    with smtp_server(inbox) as smtp_port, http_server(sms) as sms_base:
        service = ServiceProcess("services.alerts.main", {
            **pipeline.stack.env,
            "COLDCHAIN_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "COLDCHAIN_SMTP_FROM": "alerts@coldchain.test",
            "COLDCHAIN_SMS_URL": f"{sms_base}/sms",
            "COLDCHAIN_PUBLIC_URL": pipeline.api_url,
            "COLDCHAIN_ALERT_GROUP_ID": group_id,
            "COLDCHAIN_ALERT_QUIET_START": "00:00",
            "COLDCHAIN_ALERT_QUIET_END": "23:59",
            "COLDCHAIN_ALERT_POLL_INTERVAL_S": "0.5",
            "COLDCHAIN_ALERT_METRICS_PORT": str(metrics_port),
        }, ARTIFACTS / "logs", name="night-alerts")
        service.start()
        try:
            wait_for(lambda: "partitions assigned: coldchain" in service.log_tail(200), 60,
                     "the alert service's partition assignment", interval_s=0.3)
            yield inbox, sms, metrics_port
        finally:
            service.stop()


def contract_body(shipment_id: str, device: str, packed: datetime) -> dict[str, Any]:
    """CONTRACT.md's example, with this run's ids and times."""
    return {
        "id": shipment_id, "product": "live-lobster", "devices": [device],
        "origin": {"name": "Halifax Stanfield (YHZ)", "lat": 44.8808, "lon": -63.5086},
        "waypoints": [{"name": "Shanghai Pudong (PVG)", "lat": 31.1443, "lon": 121.8083, "mode": "air"}],
        "destination": {"name": "Hangzhou buyer warehouse", "lat": 30.2741, "lon": 120.1551, "mode": "road"},
        "packed_at": packed.isoformat(), "deliver_by": (packed + timedelta(hours=42)).isoformat(),
        "seller": SELLER, "buyer": BUYER,
    }


def backlog(device: str, packed: datetime, now: datetime) -> list[dict[str, Any]]:
    """One sample a minute from packing: 40 min at 7.5 C on the tarmac (a warning), then 20 min
    at -2.5 C in the hold (a freeze: critical), 3 C otherwise."""
    tarmac, freeze = packed + timedelta(hours=1), packed + timedelta(hours=3)
    samples, at = [], packed
    while at < now - timedelta(minutes=5):
        temp = 3.0
        if tarmac <= at < tarmac + timedelta(minutes=40):
            temp = 7.5
        elif freeze <= at < freeze + timedelta(minutes=20):
            temp = -2.5
        samples.append({"device_id": device, "ts": at.isoformat(), "temp_c": temp, "humidity_pct": 90.0})
        at += timedelta(minutes=1)
    return samples


def test_a_freeze_found_on_landing_reaches_both_parties_at_night_and_the_warning_waits_visibly(
    pipeline: Pipeline, night_alerts: tuple[SmtpInbox, HttpScript, int],
    device_publisher: Callable[[str], DevicePublisher], unique: Callable[[str], str],
) -> None:
    inbox, sms, metrics_port = night_alerts
    shipment_id, device = unique("SHP-2026"), unique("TRK")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    packed = now - timedelta(hours=6)
    with pipeline.http() as http:
        registered = http.post("/api/v1/shipments", json=contract_body(shipment_id, device, packed))
        assert registered.status_code == 201, registered.text
        zones = registered.json()["party_zones"]
    assert (zones["seller"]["timezone"], zones["seller"]["timezone_source"]) == ("America/Halifax", "phone")
    assert (zones["buyer"]["timezone"], zones["buyer"]["timezone_source"]) == ("Asia/Shanghai", "phone")

    samples = backlog(device, packed, now)
    random.Random(19).shuffle(samples)
    publisher = device_publisher(device)
    uploaded = time.monotonic()
    for start in range(0, len(samples), 100):  # the landing upload: batches of 100, any order
        publisher.publish(f"coldchain/v1/devices/{device}/telemetry", samples[start:start + 100])

    def freeze_told() -> bool:
        mails = [m for m in list(inbox.messages) if shipment_id in str(m["Subject"]) and "low" in str(m["Subject"])]
        texts = [json.loads(r.body) for r in list(sms.requests)]
        texted = {t["to"] for t in texts if shipment_id in t["body"] and "low" in t["body"]}
        mailed = {str(m["To"]).rsplit("<", 1)[-1].rstrip(">") for m in mails}
        return mailed >= {SELLER["email"], BUYER["email"]} and texted >= {SELLER["phone"], BUYER["phone"]}

    wait_for(freeze_told, WITHIN_S, "the freeze by SMS and email to both parties", interval_s=0.5)
    took = time.monotonic() - uploaded
    freeze_mail = next(m for m in inbox.messages if shipment_id in str(m["Subject"]) and "low" in str(m["Subject"]))
    assert "found in uploaded backlog" in str(freeze_mail["Subject"]), freeze_mail["Subject"]
    assert not any("ended" in str(m["Subject"]) and "low" in str(m["Subject"]) and shipment_id in str(m["Subject"])
                   for m in inbox.messages)  # never told only that it ended

    with pipeline.http() as http:
        alerts = http.get(f"/api/v1/shipments/{shipment_id}/alerts").json()
    warning = [a for a in alerts if a["kind"] == "temp_high" and a["severity"] == "warning"]
    assert warning, [(a["kind"], a["severity"], a["step"]) for a in alerts]
    waiting = [d for a in warning for d in a["deliveries"] if d["channel"] == "email"]
    assert {d["role"] for d in waiting} == {"seller", "buyer"}
    assert all(d["deferred"] and d["status"] == "pending" and d["not_before"] for d in waiting)
    print(f"freeze told to both parties by SMS and email {took:.1f} s after the upload began")

    # What ops watch: the service's own metrics and health.
    assert httpx.get(f"http://127.0.0.1:{metrics_port}/healthz", timeout=5).status_code == 200
    scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    sent_sms = [line for line in scraped.splitlines()
                if line.startswith("coldchain_alerts_events_total{") and 'status="sent"' in line
                and 'channel="sms"' in line and 'severity="critical"' in line]
    assert sent_sms and float(sent_sms[0].rsplit(" ", 1)[1]) >= 2, scraped
    assert "coldchain_alerts_outbox_deliveries" in scraped
    delivered = [line for line in scraped.splitlines()
                 if line.startswith('coldchain_alerts_deliveries_total{channel="sms",status="sent"}')]
    assert delivered and float(delivered[0].rsplit(" ", 1)[1]) >= 2, scraped
    assert 'coldchain_alerts_raised_to_sent_seconds_count{channel="sms"}' in scraped
    assert "coldchain_alerts_outbox_depth" in scraped
    ready = httpx.get(f"http://127.0.0.1:{metrics_port}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": True, "kafka": True}, ready.text
