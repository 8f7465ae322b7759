"""The alert service end to end: ``python -m services.alerts.main`` as a real process on
real Kafka and PostgreSQL, a real SMTP server (aiosmtpd) and a real HTTP SMS gateway in
this process, the API as a real process for the alert routes.

The service and its API work in a private schema that holds the outbox tables (the
shipments and tokens come from the shared ``public`` one, through ``search_path``), so an
alert service run by anyone else on the shared database never claims these deliveries.
"""

from __future__ import annotations

import email.message
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller
from confluent_kafka import Consumer, Producer, TopicPartition

from schemas.alert import AlertEvent
from schemas.excursion import ExcursionEvent, ExcursionKind, ExcursionSeverity, excursion_id
from schemas.topics import EXCURSIONS
from services.api.tokens import create_token
from services.db.roles import on_one_database
from services.profiles.catalog import builtin_profiles
from services.registry.limits import limits_for
from tests.component.alerts.local_servers import HttpScript, SmtpInbox, free_port, http_server
from tests.conftest import ARTIFACTS
from tests.harness.processes import ServiceProcess, wait_for, wait_for_http
from tests.harness.stack import StackEndpoints
from tests.integration.alerts.conftest import start_at_log_end
from tests.integration.conftest import shipment_body

pytestmark = pytest.mark.integration

SELLER_EMAIL, BUYER_EMAIL = "ops@seller.example", "qa@buyer.example"
SELLER_PHONE, BUYER_PHONE = "+19025550100", "+8657155500100"
LIMITS = limits_for(builtin_profiles()["live-lobster"])


class RestartableSmtp:
    """aiosmtpd on a fixed port that can go down and come back on the same port."""

    def __init__(self, inbox: SmtpInbox) -> None:
        self.inbox = inbox
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        if self._controller is not None:
            return
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def mails_for(self, shipment_id: str) -> list[email.message.EmailMessage]:
        return [m for m in list(self.inbox.messages) if shipment_id in str(m["Subject"])]


@dataclass
class AlertRig:
    stack: StackEndpoints
    conninfo: str  # the private schema first, then public
    group_id: str
    smtp: RestartableSmtp
    sms: HttpScript
    service: ServiceProcess
    api_url: str
    ops_token: str
    producer: Producer
    feed_start: list[TopicPartition]  # coldchain.alerts offsets when the service started
    produced: dict[int, int] = field(default_factory=dict)  # partition -> last offset produced

    def http(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=10,
                            headers={"Authorization": f"Bearer {token or self.ops_token}"})

    def register(self, shipment_id: str) -> None:
        with self.http() as client:
            response = client.post("/api/v1/shipments", json=shipment_body(shipment_id, [f"TRK-{shipment_id}"]))
        assert response.status_code == 201, response.text

    def produce(self, *events: ExcursionEvent, partition: int | None = None) -> None:
        for event in events:
            self.produce_raw(event.shipment_id, event.model_dump_json().encode(), partition)
        assert self.producer.flush(10) == 0

    def produce_raw(self, key: str, value: bytes, partition: int | None = None, written_at: datetime | None = None
                    ) -> None:
        def delivered(error: Any, message: Any) -> None:
            assert error is None, error
            self.produced[message.partition()] = max(self.produced.get(message.partition(), -1), message.offset())

        self.producer.produce(EXCURSIONS.name, key=key.encode(), value=value, on_delivery=delivered,
                              partition=-1 if partition is None else partition,  # -1: by key
                              timestamp=int(written_at.timestamp() * 1000) if written_at else 0)

    def wait_consumed(self, timeout_s: float = 20) -> None:
        """Until the service has committed past every record this test produced."""
        probe = Consumer({"bootstrap.servers": self.stack.kafka_bootstrap, "group.id": self.group_id,
                          "enable.auto.commit": False})
        try:
            wanted = [TopicPartition(EXCURSIONS.name, p) for p in self.produced]

            def caught_up() -> bool:
                committed = probe.committed(wanted, timeout=5)
                return all(tp.offset > self.produced[tp.partition] for tp in committed)

            wait_for(caught_up, timeout_s, "the alert service's committed offsets", interval_s=0.2)
        finally:
            probe.close()

    def feed_for(self, shipment_id: str) -> list[AlertEvent]:
        """The shipment's events on coldchain.alerts since the service started."""
        reader = Consumer({"bootstrap.servers": self.stack.kafka_bootstrap, "group.id": f"{self.group_id}-feed",
                           "enable.auto.commit": False, "enable.partition.eof": True})
        try:
            ends = {tp.partition: reader.get_watermark_offsets(tp, timeout=10)[1] for tp in self.feed_start}
            reader.assign([tp for tp in self.feed_start if tp.offset < ends[tp.partition]])
            pending = {tp.partition for tp in self.feed_start if tp.offset < ends[tp.partition]}
            found = []
            while pending:
                message = reader.poll(5)
                assert message is not None, "coldchain.alerts did not answer"
                if message.error() is None and message.key() == shipment_id.encode():
                    found.append(AlertEvent.model_validate_json(message.value() or b""))
                if message.error() is not None or (message.offset() or 0) + 1 >= ends[message.partition() or 0]:
                    pending.discard(message.partition() or 0)
            return found
        finally:
            reader.close()

    def sms_for(self, shipment_id: str) -> list[dict[str, str]]:
        bodies = [json.loads(r.body) for r in list(self.sms.requests)]
        return [b for b in bodies if shipment_id in b["body"]]

    def deliveries(self, trigger_id: str | None = None, shipment_id: str | None = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.conninfo) as conn:
            return conn.execute(
                "SELECT a.step, d.address, d.channel, d.status, d.attempts FROM alert_deliveries d"
                " JOIN alerts a ON a.id = d.alert_id"
                " WHERE (%(t)s::text IS NULL OR a.trigger_id = %(t)s)"
                " AND (%(s)s::text IS NULL OR a.shipment_id = %(s)s)",
                {"t": trigger_id, "s": shipment_id},
            ).fetchall()


@pytest.fixture(scope="module")
def rig(stack: StackEndpoints, private_schema: str) -> Iterator[AlertRig]:
    inbox = SmtpInbox()
    smtp = RestartableSmtp(inbox)
    smtp.start()
    sms = HttpScript(default=(202, {"id": "gw"}))
    group_id = f"coldchain-alerts-test-{uuid.uuid4().hex[:8]}"
    feed_start = start_at_log_end(stack.kafka_bootstrap, group_id)
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    logs = ARTIFACTS / "logs"
    with http_server(sms) as sms_base:
        common = {**stack.env, **on_one_database(private_schema)}  # as the owner, every DSN
        api = ServiceProcess("services.api.main", {**common, "COLDCHAIN_HTTP_PORT": str(api_port),
                                                   "COLDCHAIN_PUBLIC_URL": api_url}, logs, name="alerts-api")
        service = ServiceProcess("services.alerts.main", {
            **common,
            "COLDCHAIN_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
            "COLDCHAIN_SMTP_FROM": "alerts@coldchain.test",
            "COLDCHAIN_SMS_URL": f"{sms_base}/sms",
            "COLDCHAIN_PUBLIC_URL": api_url,  # the email links point at this test's API
            "COLDCHAIN_ALERT_GROUP_ID": group_id,
            "COLDCHAIN_ALERT_QUIET_CHANNELS": "[]",  # the wall clock must not defer anything
            "COLDCHAIN_ALERT_BACKOFF_BASE_S": "0.3",
            "COLDCHAIN_ALERT_BACKOFF_CAP_S": "1",
            "COLDCHAIN_ALERT_POLL_INTERVAL_S": "0.2",
            "COLDCHAIN_ALERT_CLAIM_LEASE_S": "3",
            "COLDCHAIN_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "COLDCHAIN_ALERT_UNKNOWN_SHIPMENT_GRACE_S": "3",
            "COLDCHAIN_ALERT_RECORD_RETRY_S": "0.5",
        }, logs)
        api.start()
        service.start()
        producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "enable.idempotence": True})
        try:
            wait_for_http(f"{api_url}/openapi.json", 60, api)
            wait_for(lambda: "partitions assigned: coldchain" in service.log_tail(200), 30,
                     "the alert service's partition assignment")
            yield AlertRig(stack, private_schema, group_id, smtp, sms, service, api_url,
                           create_token(stack.database_url, "ops", None), producer, feed_start)
        finally:
            service.stop()
            api.stop()
            smtp.stop()


def excursion(shipment_id: str, kind: ExcursionKind, severity: ExcursionSeverity, start: datetime,
              closed_after: timedelta | None = None, revision: int = 1) -> ExcursionEvent:
    """A real excursion step as the excursion processor emits it: "opened" at the reading
    that crossed the alarm delay, or "closed" (``closed_after``) once back in range."""
    device = f"TRK-{shipment_id}"
    delay = LIMITS.critical_delay_min if severity == "critical" else LIMITS.nominal_delay_min
    peak = {"temp_high": 9.5 if severity == "critical" else 7.2, "temp_low": -1.0}.get(kind)
    ended = start + closed_after if closed_after else None
    return ExcursionEvent(
        id=excursion_id(shipment_id, device, kind, start),
        shipment_id=shipment_id,
        device_id=device,
        kind=kind,
        severity=severity,
        started_at=start,
        ended_at=ended,
        peak_c=peak,
        degree_minutes=(peak - LIMITS.nominal_high_c) * delay if peak and kind == "temp_high" else None,
        duration_min=closed_after.total_seconds() / 60 if closed_after else None,
        profile=LIMITS.profile,
        revision=revision,
        step="closed" if ended else "opened",
        event_time=ended or start + timedelta(minutes=delay),
        limits=LIMITS,
    )


def tarmac_delay(shipment_id: str, start: datetime) -> tuple[ExcursionEvent, ExcursionEvent]:
    """Pallets left on the Anchorage apron: warm above 4.4 C for 40 minutes, then cooled."""
    opened = excursion(shipment_id, "temp_high", "warning", start)
    return opened, excursion(shipment_id, "temp_high", "warning", start, timedelta(minutes=40), revision=2)


def mail_keys(mails: list[email.message.EmailMessage]) -> Counter[tuple[str, str]]:
    """How many emails each (address, subject) got (a long subject is folded: strip)."""
    return Counter((str(m["To"]).rsplit("<", 1)[-1].rstrip(">"), str(m["Subject"]).strip()) for m in mails)


def expected_mails(shipment_id: str, told: list[tuple[str, str]]) -> Counter[tuple[str, str]]:
    return Counter((who, f"[coldchain] {severity}: {what} - {shipment_id}")
                   for who in (SELLER_EMAIL, BUYER_EMAIL) for severity, what in told)


def settle(rig: AlertRig, check: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    if not rig.service.alive():
        raise AssertionError(f"alert service exited:\n{rig.service.log_tail()}")
    wait_for(check, timeout_s, what, interval_s=0.1)


def test_each_alert_reaches_each_recipient_once_through_redelivery_outage_and_crash(
    rig: AlertRig, unique: Callable[[str], str]
) -> None:
    shipment_id = unique("SHP-ALERT")
    rig.register(shipment_id)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=20)
    tarmac = tarmac_delay(shipment_id, t0)
    critical = excursion(shipment_id, "temp_high", "critical", t0 + timedelta(hours=3))

    # 1. A warning excursion opens and closes; a critical one opens.
    rig.produce(*tarmac, critical)
    settle(rig, lambda: len(rig.smtp.mails_for(shipment_id)) >= 6 and len(rig.sms_for(shipment_id)) >= 2,
           "six emails and two SMS")
    rig.wait_consumed()
    told = [("WARNING", "Temperature high started"), ("WARNING", "Temperature high ended"),
            ("CRITICAL", "Temperature high started")]
    assert mail_keys(rig.smtp.mails_for(shipment_id)) == expected_mails(shipment_id, told)
    # Per the default routes, SMS only for the critical one: once to each phone.
    assert sorted(s["to"] for s in rig.sms_for(shipment_id)) == sorted([SELLER_PHONE, BUYER_PHONE])

    # 2. The same events again (a processor replay) change nothing.
    rig.produce(*tarmac, critical)
    rig.wait_consumed()
    wait_for(lambda: all(row[3] == "sent" for row in rig.deliveries(shipment_id=shipment_id)), 5, "all sent")
    assert len(rig.smtp.mails_for(shipment_id)) == 6 and len(rig.sms_for(shipment_id)) == 2
    assert len(rig.deliveries(shipment_id=shipment_id)) == 8

    # 3. The SMTP server goes down while a new excursion opens; nothing is lost or doubled.
    rig.smtp.stop()
    cold = excursion(shipment_id, "temp_low", "warning", t0 + timedelta(hours=6))
    rig.produce(cold)
    settle(rig, lambda: any(r[4] >= 2 and r[3] == "pending" for r in rig.deliveries(cold.id)),
           "email retries while SMTP is down")
    rig.smtp.start()
    settle(rig, lambda: len(rig.smtp.mails_for(shipment_id)) >= 8, "the held emails after SMTP came back")

    # 4. SIGKILL mid-way (SMTP down again, an excursion half told), restart: nothing repeats.
    rig.smtp.stop()
    late_open, late_close = tarmac_delay(shipment_id, t0 + timedelta(hours=12))
    rig.produce(late_open)
    settle(rig, lambda: any(r[4] >= 1 for r in rig.deliveries(late_open.id)), "the next alert's first attempt")
    rig.service.kill()
    rig.produce(late_close)  # consumed only by the restarted service
    rig.smtp.start()
    rig.service.start()
    settle(rig, lambda: len(rig.smtp.mails_for(shipment_id)) >= 12, "every email after the restart", 40)
    rig.wait_consumed()
    wait_for(lambda: all(row[3] == "sent" for row in rig.deliveries(shipment_id=shipment_id)), 10, "all sent")

    final = rig.smtp.mails_for(shipment_id)
    told += [("WARNING", "Temperature low started"),  # the cold one, held through the outage
             ("WARNING", "Temperature high started"), ("WARNING", "Temperature high ended")]  # the second delay
    assert mail_keys(final) == expected_mails(shipment_id, told)
    # The two tarmac delays carry the same words; their Message-IDs tell them apart.
    assert len({str(m["Message-ID"]) for m in final}) == 12
    assert sorted(s["to"] for s in rig.sms_for(shipment_id)) == sorted([SELLER_PHONE, BUYER_PHONE])
    rows = rig.deliveries(shipment_id=shipment_id)
    assert len(rows) == 14 and {r[3] for r in rows} == {"sent"}


def test_alert_routes_list_and_acknowledge_with_party_scoping(rig: AlertRig, unique: Callable[[str], str]) -> None:
    shipment_id = unique("SHP-ALERT-API")
    rig.smtp.start()  # a no-op unless the test before failed while it was down
    if not rig.service.alive():
        rig.service.start()
    rig.register(shipment_id)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    warm = excursion(shipment_id, "temp_high", "warning", t0)
    freezing = excursion(shipment_id, "temp_low", "critical", t0 + timedelta(hours=1))
    rig.produce(warm, freezing)
    settle(rig, lambda: len(rig.smtp.mails_for(shipment_id)) >= 4 and len(rig.sms_for(shipment_id)) >= 2,
           "the emails and SMS of two alerts")

    with rig.http() as ops:
        listed = ops.get(f"/api/v1/shipments/{shipment_id}/alerts")
    assert listed.status_code == 200, listed.text
    alerts = {a["kind"]: a for a in listed.json()}
    assert set(alerts) == {"temp_high", "temp_low"}
    assert alerts["temp_low"]["severity"] == "critical" and not alerts["temp_low"]["acknowledged"]
    low_deliveries = {(d["role"], d["channel"]): d for d in alerts["temp_low"]["deliveries"]}
    assert set(low_deliveries) == {(r, c) for r in ("seller", "buyer") for c in ("email", "sms")}
    assert all(d["status"] == "sent" and d["attempts"] == 1 and d["sent_at"] for d in low_deliveries.values())

    # The live feed got each alert once as raised, and each delivery once as sent.
    # (A "sent" event follows the provider's acceptance by a moment: poll.)
    expected_feed = Counter({("temp_high", "raised", None, None): 1, ("temp_low", "raised", None, None): 1}
                            | {("temp_high", "sent", r, "email"): 1 for r in ("seller", "buyer")}
                            | {("temp_low", "sent", r, c): 1 for r in ("seller", "buyer") for c in ("email", "sms")})

    def feed() -> Counter[tuple[str, str, str | None, str | None]]:
        return Counter((e.kind, e.status, e.role, e.channel) for e in rig.feed_for(shipment_id))

    wait_for(lambda: feed() == expected_feed, 15, "the alert feed", interval_s=0.5)

    stranger = create_token(rig.stack.database_url, "exporter", "Some Other Seafood Ltd.")
    seller = create_token(rig.stack.database_url, "exporter", "Shediac Lobster Co.")
    with rig.http(stranger) as other:
        assert other.get(f"/api/v1/shipments/{shipment_id}/alerts").status_code == 404
        assert other.post(f"/api/v1/alerts/{alerts['temp_high']['id']}/ack").status_code == 404
    with rig.http(seller) as party:
        acked = party.post(f"/api/v1/alerts/{alerts['temp_high']['id']}/ack")
        assert acked.status_code == 200 and acked.json()["by_this_call"] is True
        again = party.post(f"/api/v1/alerts/{alerts['temp_high']['id']}/ack")
        assert again.json()["by_this_call"] is False

    # The link in the buyer's email (no bearer token) opens a page and changes nothing; its
    # button (a POST) acknowledges; a forged link does neither.
    buyer_mail = next(m for m in rig.smtp.mails_for(shipment_id)
                      if BUYER_EMAIL in str(m["To"]) and "CRITICAL" in str(m["Subject"]))
    body = buyer_mail.get_body(("plain",))
    assert body is not None
    link = re.search(r"Acknowledge this alert: (\S+)", body.get_content())
    assert link is not None and link.group(1).startswith(rig.api_url) and link.group(1).endswith("/ack")
    forged = re.sub(r"/s/[^/]+/", "/s/forged-forged-forged-forged/", link.group(1))
    assert httpx.get(forged, timeout=10).status_code == 404 and httpx.post(forged, timeout=10).status_code == 404
    page = httpx.get(link.group(1), timeout=10)
    assert page.status_code == 200 and "Acknowledge" in page.text
    with rig.http() as ops:
        opened = {a["kind"]: a for a in ops.get(f"/api/v1/shipments/{shipment_id}/alerts").json()}
    assert not opened["temp_low"]["acknowledged"]  # opening is not acknowledging
    pressed = httpx.post(link.group(1), timeout=10)
    assert pressed.status_code == 200 and "the alert is acknowledged" in pressed.text

    with rig.http() as ops:
        after = {a["kind"]: a for a in ops.get(f"/api/v1/shipments/{shipment_id}/alerts").json()}
    assert after["temp_high"]["acknowledged_by"] == "exporter:Shediac Lobster Co."
    assert after["temp_low"]["acknowledged"]
    assert after["temp_low"]["acknowledged_by"] == f"buyer {BUYER_EMAIL} via email link"


def test_records_wait_for_a_late_shipment_and_orphans_do_not_block_their_partition(
    rig: AlertRig, unique: Callable[[str], str]
) -> None:
    late, known, never = unique("SHP-ALERT-LATE"), unique("SHP-ALERT-KNOWN"), unique("SHP-ALERT-NEVER")
    gone = unique("SHP-ALERT-GONE")
    rig.register(known)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    # All on one partition, in this order: an event whose shipment is registered a moment
    # later, garbage, an event for a shipment that never appears, then a known shipment's.
    rig.produce(excursion(late, "temp_high", "warning", t0), partition=0)
    rig.produce_raw(known, b"{not json", partition=0)
    rig.produce(excursion(never, "temp_high", "warning", t0), partition=0)
    # A record written an hour ago for a shipment no longer there (a replayed backlog): its
    # grace ran out long ago, so it is skipped at once.
    old = excursion(gone, "temp_high", "warning", t0)
    rig.produce_raw(gone, old.model_dump_json().encode(), partition=0, written_at=t0)
    assert rig.producer.flush(10) == 0
    rig.produce(excursion(known, "temp_low", "warning", t0), partition=0)
    rig.register(late)  # within the grace (3 s in this rig): its alert is raised, not lost

    settle(rig, lambda: len(rig.smtp.mails_for(known)) >= 2, "the known shipment's emails behind the orphan")
    rig.wait_consumed()
    assert mail_keys(rig.smtp.mails_for(late)) == expected_mails(late, [("WARNING", "Temperature high started")])
    assert mail_keys(rig.smtp.mails_for(known)) == expected_mails(known, [("WARNING", "Temperature low started")])
    assert rig.smtp.mails_for(never) == [] and rig.deliveries(shipment_id=never) == []
    log = rig.service.log_tail(400)
    assert f"no shipment {never!r}" in log and "unreadable record on coldchain.excursions[0]" in log
    gone_line = next(line for line in log.splitlines() if f"no shipment {gone!r}" in line)
    assert int(gone_line.split(f"{gone!r} ")[1].split(" s after")[0]) >= 3 * 3600 - 60  # its age, not a wait
