"""From a tracker's MQTT publish to the phones and inboxes, on the real pipeline.

api, ingest, sink, excursions and eta run as real processes (the ``pipeline`` fixture), the
alert service as one more, with a real SMTP server (aiosmtpd) and a real HTTP SMS gateway
in this process. A device reports a tarmac delay: warming above 5 C for longer than the
live-lobster profile's 15-minute alarm delay, then back in range for good. Each recipient
hears exactly one "started" and one "ended" on each channel, and each SMS is GSM-7.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition

from schemas.topics import EXCURSIONS
from services.alerts.sms_encoding import sms_size
from services.db.roles import on_one_database
from tests.component.alerts.local_servers import HttpScript, SmtpInbox, http_server, smtp_server
from tests.conftest import ARTIFACTS
from tests.harness.processes import ServiceProcess, wait_for
from tests.harness.stack import StackEndpoints
from tests.integration.alerts.conftest import start_at_log_end
from tests.integration.conftest import DevicePublisher, Pipeline, shipment_body

pytestmark = pytest.mark.integration

SELLER_EMAIL, BUYER_EMAIL = "ops@seller.example", "qa@buyer.example"
SELLER_PHONE, BUYER_PHONE = "+19025550100", "+8657155500100"
# Warnings by SMS too (the default routes keep SMS for critical), so that one tarmac delay
# exercises both channels for both parties.
ROUTES = [{"role": role, "channel": channel, "min_severity": "warning"}
          for role in ("seller", "buyer") for channel in ("email", "sms")]


@dataclass
class AlertProcess:
    service: ServiceProcess
    inbox: SmtpInbox
    sms: HttpScript
    group_id: str
    conninfo: str

    def mails_for(self, shipment_id: str) -> list[Any]:
        return [m for m in list(self.inbox.messages) if shipment_id in str(m["Subject"])]

    def sms_for(self, shipment_id: str) -> list[dict[str, str]]:
        bodies = [json.loads(r.body) for r in list(self.sms.requests)]
        return [b for b in bodies if shipment_id in b["body"]]


@pytest.fixture(scope="module")
def alert_process(stack: StackEndpoints, private_schema: str, pipeline: Pipeline) -> Iterator[AlertProcess]:
    inbox = SmtpInbox()
    sms = HttpScript(default=(202, {"id": "gw"}))
    group_id = f"coldchain-alerts-mqtt-{uuid.uuid4().hex[:8]}"
    start_at_log_end(stack.kafka_bootstrap, group_id)
    with smtp_server(inbox) as smtp_port, http_server(sms) as sms_base:
        service = ServiceProcess("services.alerts.main", {
            **stack.env,
            **on_one_database(private_schema),  # as the owner, every DSN
            "COLDCHAIN_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "COLDCHAIN_SMTP_FROM": "alerts@coldchain.test",
            "COLDCHAIN_SMS_URL": f"{sms_base}/sms",
            "COLDCHAIN_PUBLIC_URL": pipeline.api_url,
            "COLDCHAIN_ALERT_GROUP_ID": group_id,
            "COLDCHAIN_ALERT_ROUTES": json.dumps(ROUTES),
            "COLDCHAIN_ALERT_QUIET_CHANNELS": "[]",  # the wall clock must not defer anything
            # The "live" tracker replays two hours past in seconds: not a backlog here.
            "COLDCHAIN_ALERT_FOUND_LATE_AFTER_MIN": "600",
        }, ARTIFACTS / "logs", name="alerts-mqtt")
        service.start()
        try:
            wait_for(lambda: "partitions assigned: coldchain" in service.log_tail(200), 30,
                     "the alert service's partition assignment")
            yield AlertProcess(service, inbox, sms, group_id, private_schema)
        finally:
            service.stop()


def _tarmac_delay(device_id: str, start: datetime) -> list[dict[str, Any]]:
    """One sample a minute: 3 C for 10 minutes, 7.5 C for 25 (past the 15-minute delay,
    below the 10 C critical limit), then 3 C for 15 (past the 5 minutes that close it)."""
    return [{"device_id": device_id, "ts": (start + timedelta(minutes=m)).isoformat(),
             "temp_c": 7.5 if 10 <= m < 35 else 3.0, "humidity_pct": 90.0} for m in range(50)]


def _committed_past(bootstrap: str, group_id: str, ends: list[TopicPartition]) -> bool:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id, "enable.auto.commit": False})
    try:
        committed = {tp.partition: tp.offset for tp in probe.committed(
            [TopicPartition(EXCURSIONS.name, tp.partition) for tp in ends], timeout=5)}
        return all(tp.offset == 0 or committed.get(tp.partition, -1) >= tp.offset for tp in ends)
    finally:
        probe.close()


def _excursion_log_end(bootstrap: str) -> list[TopicPartition]:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex[:8]}"})
    try:
        partitions = probe.list_topics(EXCURSIONS.name, timeout=10).topics[EXCURSIONS.name].partitions
        return [TopicPartition(EXCURSIONS.name, p, probe.get_watermark_offsets(
            TopicPartition(EXCURSIONS.name, p), timeout=10)[1]) for p in partitions]
    finally:
        probe.close()


def test_tarmac_delay_over_mqtt_tells_each_recipient_once_per_step_and_channel(
    pipeline: Pipeline, alert_process: AlertProcess, device_publisher: Callable[[str], DevicePublisher],
    db: psycopg.Connection, unique: Callable[[str], str],
) -> None:
    device, shipment_id = unique("TRK-ALERT-MQTT"), unique("SHP-ALERT-MQTT")
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    body = shipment_body(shipment_id, [device])
    body["packed_at"] = (start - timedelta(hours=1)).isoformat()
    with pipeline.http() as http:
        assert http.post("/api/v1/shipments", json=body).status_code == 201

    tracker = device_publisher(device)
    for sample in _tarmac_delay(device, start):
        tracker.publish(f"coldchain/v1/devices/{device}/telemetry", sample)  # live: one at a time, in order

    def told() -> bool:
        return len(alert_process.mails_for(shipment_id)) >= 4 and len(alert_process.sms_for(shipment_id)) >= 4

    if not alert_process.service.alive():
        raise AssertionError(f"alert service exited:\n{alert_process.service.log_tail()}")
    wait_for(told, 120, "two emails and two SMS to each party", interval_s=0.2)

    # Everything the excursion processor said about it has been read by the alert service
    # and every delivery is finished: nothing more can come.
    wait_for(lambda: db.execute("SELECT ended_at IS NOT NULL FROM excursions WHERE shipment_id = %s"
                                " AND status <> 'retracted'", (shipment_id,)).fetchall() == [(True,)],
             60, "the closed excursion in TimescaleDB", interval_s=0.3)
    ends = _excursion_log_end(pipeline.stack.kafka_bootstrap)
    wait_for(lambda: _committed_past(pipeline.stack.kafka_bootstrap, alert_process.group_id, ends), 30,
             "the alert service's offsets past the excursion events", interval_s=0.3)
    with psycopg.connect(alert_process.conninfo) as conn:
        wait_for(lambda: conn.execute("SELECT count(*) FILTER (WHERE d.status = 'sent'), count(*)"
                                      " FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id"
                                      " WHERE a.shipment_id = %s", (shipment_id,)).fetchone() == (8, 8),
                 30, "eight deliveries, all sent", interval_s=0.2)
    time.sleep(1)  # a duplicate would be sent at once (new deliveries wake the dispatcher)

    subjects = Counter((str(m["To"]).rsplit("<", 1)[-1].rstrip(">"), str(m["Subject"]).strip())
                       for m in alert_process.mails_for(shipment_id))
    assert subjects == Counter({(who, f"[coldchain] WARNING: Temperature high {what} - {shipment_id}"): 1
                                for who in (SELLER_EMAIL, BUYER_EMAIL) for what in ("started", "ended")})
    texts = alert_process.sms_for(shipment_id)
    steps = Counter((s["to"], "started" if "high started" in s["body"] else
                     "ended" if "high ended" in s["body"] else s["body"]) for s in texts)
    assert steps == Counter({(phone, what): 1 for phone in (SELLER_PHONE, BUYER_PHONE)
                             for what in ("started", "ended")})
    for text in texts:
        size = sms_size(text["body"])  # English and ASCII ids: GSM-7, not UCS-2
        assert size.encoding == "GSM-7" and size.segments <= 2, text
        assert text["body"].startswith(f"WARNING {shipment_id}: Temperature high"), text

    # The email carries the device time of the reading that opened it and the limits.
    opened = next(m for m in alert_process.mails_for(shipment_id) if "started" in str(m["Subject"]))
    plain = opened.get_body(("plain",))
    assert plain is not None
    text = plain.get_content()
    opened_at = start + timedelta(minutes=10 + 15)  # the reading that completed the 15-minute delay
    assert f"{opened_at:%Y-%m-%d %H:%M:%S} UTC" in text and "0.0°C to 5.0°C" in text and "7.5°C" in text
