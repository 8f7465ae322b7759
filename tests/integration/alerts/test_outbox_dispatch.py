"""The outbox and dispatcher on real PostgreSQL, with a real local SMTP server and real
local HTTP servers for the SMS providers. Each test gets its own schema, so a running
alert service on the same database never sees (or claims) these rows."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg.sql import SQL, Identifier

from services.alerts.backoff import Backoff
from services.alerts.channel_set import ChannelSet
from services.alerts.channels.sms_gateway import HttpSmsGateway
from services.alerts.channels.smtp import SmtpEmailChannel, parse_smtp_url
from services.alerts.channels.twilio import TwilioSms
from services.alerts.dispatcher import AlertDispatcher, DispatchConfig
from services.alerts.formatting import LinkConfig
from services.alerts.ids import ack_code
from services.alerts.intake import AlertIntake
from services.alerts.outbox import AlertOutbox
from services.alerts.policy import (
    AlertState,
    PolicyConfig,
    QuietHours,
    Recipient,
    handle_trigger,
    recipients_for,
)
from services.alerts.trigger import AlertTrigger
from tests.component.alerts.local_servers import HttpScript, SmtpInbox, http_server, smtp_server
from tests.unit.alerts.factories import shipment, trigger

pytestmark = pytest.mark.integration

SECRET = b"integration-secret"
LINKS = LinkConfig(public_url="http://127.0.0.1:8000", ack_secret=SECRET)
# No quiet hours unless a test asks: the fake clock's hour must not decide the outcome.
NO_QUIET = PolicyConfig(quiet_hours=QuietHours(channels=frozenset()))
OPS = Recipient(role="ops", name="Ops desk", email="desk@ops.example", phone="+15550009999")
START = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)  # midnight in Halifax, noon in Shanghai


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def alert_db(database_url: str) -> Iterator[str]:
    """A private schema holding the tables of 0300_alerts.sql; yields its conninfo."""
    schema = f"alerts_it_{uuid.uuid4().hex[:10]}"
    folder = resources.files("services.db") / "migrations"
    # Every alert migration (03xx), in order: the outbox's tables as migrate() builds them.
    sql = "\n".join(f.read_text() for f in sorted(folder.iterdir(), key=lambda f: f.name)
                    if f.name.startswith("03") and f.name.endswith(".sql"))
    name = Identifier(schema)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SQL("CREATE SCHEMA {}").format(name))
        conn.execute(SQL("SET search_path TO {}").format(name))
        conn.execute(sql.encode())
    try:
        yield make_conninfo(database_url, options=f"-c search_path={schema}")
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(SQL("DROP SCHEMA {} CASCADE").format(name))


def _rows(conninfo: str, query: str) -> list[tuple]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(query.encode()).fetchall()


async def _intake(outbox: AlertOutbox, trig: AlertTrigger, now: datetime, config: PolicyConfig = NO_QUIET) -> list[str]:
    recipients = recipients_for(shipment())
    _, new_ids = await outbox.apply(
        trig.shipment_id, lambda state: handle_trigger(state, trig, recipients, config, now), now
    )
    return new_ids


def _dispatcher(outbox: AlertOutbox, channels: ChannelSet, clock: Clock, **config: object) -> AlertDispatcher:
    settings: dict[str, object] = {
        "batch_size": 50,
        "lease": timedelta(minutes=5),
        "escalate_after": timedelta(minutes=15),
        "backoff": Backoff(base=timedelta(seconds=10), cap=timedelta(minutes=2), max_attempts=8),
    }
    dispatch = DispatchConfig(**{**settings, **config})  # type: ignore[arg-type]
    return AlertDispatcher(outbox, channels, LINKS, NO_QUIET, [OPS], dispatch, clock=clock)


def test_redelivered_event_changes_nothing(alert_db: str) -> None:
    async def go() -> tuple[list[str], list[str]]:
        outbox = AlertOutbox(alert_db, SECRET)
        await outbox.start()
        try:
            first = await _intake(outbox, trigger(severity="critical"), START)
            again = await _intake(outbox, trigger(severity="critical"), START + timedelta(1))
            return first, again
        finally:
            await outbox.close()

    first, again = asyncio.run(go())
    assert len(first) == 1 and again == []
    assert _rows(alert_db, "SELECT count(*) FROM alerts") == [(1,)]
    # critical: seller and buyer, each by email and SMS
    assert _rows(alert_db, "SELECT count(*) FROM alert_deliveries") == [(4,)]
    state = _rows(alert_db, "SELECT state FROM alert_policy_state")[0][0]
    assert list(AlertState.model_validate(state).triggers) == ["exc-1"]


def test_provider_down_for_minutes_delays_but_loses_and_repeats_nothing(alert_db: str) -> None:
    inbox = SmtpInbox(data_reply="421 4.3.2 service not available")
    script = HttpScript(replies=[(503, {})] * 6, default=(200, {"id": "gw"}))

    async def go(smtp_port: int, sms_url: str) -> list[int]:
        outbox = AlertOutbox(alert_db, SECRET)
        channels = ChannelSet.of(
            email=SmtpEmailChannel(parse_smtp_url(f"smtp://127.0.0.1:{smtp_port}"), "a@cc.example"),
            sms=HttpSmsGateway(sms_url),
        )
        await outbox.start()
        await channels.start()
        clock = Clock(START)
        dispatcher = _dispatcher(outbox, channels, clock)
        sent_per_round = []
        try:
            await _intake(outbox, trigger(severity="critical"), clock.now)
            for minute in range(10):
                if minute == 3:
                    inbox.data_reply = None  # the mail server comes back
                report = await dispatcher.run_once()
                sent_per_round.append(report.sent)
                clock.advance(timedelta(minutes=1))
        finally:
            await channels.close()
            await outbox.close()
        return sent_per_round

    with smtp_server(inbox) as port, http_server(script) as base:
        sent_per_round = asyncio.run(go(port, f"{base}/sms"))
    assert sum(sent_per_round) == 4 and sent_per_round[0] == 0
    assert sorted(Counter(m["Message-ID"] for m in inbox.messages).values()) == [1, 1]
    accepted = script.requests[6:]
    assert len(accepted) == 2
    assert len({r.headers["Idempotency-Key"] for r in accepted}) == 2
    rows = _rows(alert_db, "SELECT status, attempts > 1, last_error FROM alert_deliveries")
    assert all(status == "sent" and retried and err is None for status, retried, err in rows)


def test_permanent_refusal_is_not_retried(alert_db: str) -> None:
    script = HttpScript(default=(400, {"error": "bad number"}))

    async def go(sms_url: str) -> None:
        outbox = AlertOutbox(alert_db, SECRET)
        channels = ChannelSet.of(sms=HttpSmsGateway(sms_url))
        await outbox.start()
        await channels.start()
        clock = Clock(START)
        try:
            await _intake(outbox, trigger(severity="critical"), clock.now)
            dispatcher = _dispatcher(outbox, channels, clock)
            for _ in range(3):
                await dispatcher.run_once()
                clock.advance(timedelta(minutes=4))  # well past any backoff, before escalation
        finally:
            await channels.close()
            await outbox.close()

    with http_server(script) as base:
        asyncio.run(go(base))
    assert len(script.requests) == 2  # one per SMS delivery, never again
    rows = _rows(alert_db, "SELECT channel, status, attempts FROM alert_deliveries")
    assert sorted(rows) == [
        ("email", "pending", 0),  # no email channel configured here: it waits
        ("email", "pending", 0),
        ("sms", "failed", 1),
        ("sms", "failed", 1),
    ]


def test_crash_after_claim_is_retaken_after_the_lease_and_not_repeated(alert_db: str) -> None:
    listed: dict[str, list[dict[str, str]]] = {"messages": []}
    script = HttpScript(default=(201, {"sid": "SM1"}))

    async def go(base: str) -> None:
        outbox = AlertOutbox(alert_db, SECRET)
        twilio = TwilioSms("AC1", "tok", "+15550001111", base_url=base)
        channels = ChannelSet.of(sms=twilio)
        await outbox.start()
        await channels.start()
        clock = Clock(START)
        try:
            await _intake(outbox, trigger(severity="critical"), clock.now)
            # A dispatcher claims both SMS deliveries, hands one to Twilio, and dies.
            claimed = await outbox.claim_due(clock.now, ["sms"], 10, "dead", timedelta(minutes=5))
            assert len(claimed) == 2
            dispatcher = _dispatcher(outbox, channels, clock)
            from services.alerts.formatting import format_sms
            from services.alerts.policy import recipient_zone

            crashed = claimed[0]
            body = format_sms(
                crashed.alert, crashed.address, crashed.id, recipient_zone(crashed.timezone, "UTC"), LINKS
            ).body
            listed["messages"] = [{"to": crashed.address, "body": body, "status": "sent"}]
            # Twilio's list call answers with what it has; a POST gets a new SID.
            script.respond = lambda r: (200, listed) if r.method == "GET" else (201, {"sid": "SM2"})
            assert (await dispatcher.run_once()).sent == 0  # lease still held
            assert script.requests == []
            clock.advance(timedelta(minutes=6))
            report = await dispatcher.run_once()
            assert report.sent == 2
        finally:
            await channels.close()
            await outbox.close()

    with http_server(script) as base:
        asyncio.run(go(base))
    posts = [r for r in script.requests if r.method == "POST"]
    assert len(posts) == 1  # only the delivery Twilio did not have was sent
    rows = _rows(alert_db, "SELECT status, provider_ref FROM alert_deliveries WHERE channel='sms'")
    assert sorted(rows) == [("sent", "SM2"), ("sent", "already-accepted")]


def test_two_dispatchers_never_send_the_same_delivery(alert_db: str) -> None:
    inbox = SmtpInbox()

    async def go(port: int) -> None:
        outbox = AlertOutbox(alert_db, SECRET, max_connections=6)
        email = SmtpEmailChannel(parse_smtp_url(f"smtp://127.0.0.1:{port}"), "a@cc.example")
        channels = ChannelSet.of(email=email)
        await outbox.start()
        clock = Clock(START)
        try:
            for i in range(10):
                # an hour apart in event time: outside the flap window, all told
                await _intake(outbox, trigger(f"exc-{i}", at=START + timedelta(hours=i)), clock.now)
            first = _dispatcher(outbox, channels, clock, batch_size=3)
            second = _dispatcher(outbox, channels, clock, batch_size=3)
            for _ in range(6):
                await asyncio.gather(first.run_once(), second.run_once())
        finally:
            await outbox.close()

    with smtp_server(inbox) as port:
        asyncio.run(go(port))
    ids = Counter(m["Message-ID"] for m in inbox.messages)
    assert len(ids) == 20 and set(ids.values()) == {1}


def test_quiet_hours_defer_a_warning_until_morning(alert_db: str) -> None:
    inbox = SmtpInbox()
    quiet = PolicyConfig(quiet_hours=QuietHours())  # 22:00-07:00, email and SMS

    async def go(port: int) -> list[int]:
        outbox = AlertOutbox(alert_db, SECRET)
        email = SmtpEmailChannel(parse_smtp_url(f"smtp://127.0.0.1:{port}"), "a@cc.example")
        await outbox.start()
        clock = Clock(START)  # midnight in Halifax: the seller sleeps
        sent = []
        try:
            await _intake(outbox, trigger(), clock.now, config=quiet)
            dispatcher = _dispatcher(outbox, ChannelSet.of(email=email), clock)
            for _ in range(8):
                sent.append((await dispatcher.run_once()).sent)
                clock.advance(timedelta(hours=1))
        finally:
            await outbox.close()
        return sent

    with smtp_server(inbox) as port:
        sent = asyncio.run(go(port))
    # The buyer (noon in Shanghai) at once; the seller at 07:00 Halifax = 11:00 UTC.
    assert sent == [1, 0, 0, 0, 0, 0, 0, 1]
    assert [m["To"].addresses[0].addr_spec for m in inbox.messages] == [
        "qa@buyer.example",
        "ops@seller.example",
    ]


def test_unacknowledged_critical_alert_escalates_to_ops(alert_db: str) -> None:
    inbox = SmtpInbox()

    async def go(port: int) -> tuple[int, str | None]:
        outbox = AlertOutbox(alert_db, SECRET)
        email = SmtpEmailChannel(parse_smtp_url(f"smtp://127.0.0.1:{port}"), "a@cc.example")
        await outbox.start()
        clock = Clock(START)
        try:
            [acked_id] = await _intake(outbox, trigger("exc-a", severity="critical"), clock.now)
            await _intake(outbox, trigger("exc-b", severity="critical", kind="temp_low"), clock.now)
            code = ack_code(acked_id, SECRET)
            by_code = await outbox.acknowledge_by_code(code.lower(), "+8657155500100", clock.now)
            dispatcher = _dispatcher(outbox, ChannelSet.of(email=email), clock)
            await dispatcher.run_once()
            clock.advance(timedelta(minutes=16))
            escalated = (await dispatcher.run_once()).escalated
            clock.advance(timedelta(minutes=16))
            escalated += (await dispatcher.run_once()).escalated
            return escalated, by_code
        finally:
            await outbox.close()

    with smtp_server(inbox) as port:
        escalated, by_code = asyncio.run(go(port))
    assert by_code is not None and escalated == 1
    to_ops = [m for m in inbox.messages if m["To"].addresses[0].addr_spec == OPS.email]
    assert len(to_ops) == 1 and "Temperature low" in to_ops[0]["Subject"]
    assert _rows(alert_db, "SELECT count(*) FROM alert_deliveries WHERE role = 'ops'") == [(2,)]


def test_migration_file_is_packaged() -> None:
    path = Path(str(resources.files("services.db") / "migrations" / "0300_alerts.sql"))
    assert "alert_deliveries" in path.read_text()


def test_new_deliveries_wake_the_dispatcher_without_waiting_for_its_poll(alert_db: str) -> None:
    """The dispatcher polls once an hour here: only the intake's wake-up can bring the
    emails of a new alert (and a closing after it) while the test waits."""
    inbox = SmtpInbox()

    async def go(port: int) -> list[int]:
        outbox = AlertOutbox(alert_db, SECRET)
        email = SmtpEmailChannel(parse_smtp_url(f"smtp://127.0.0.1:{port}"), "a@cc.example")
        await outbox.start()
        dispatcher = AlertDispatcher(outbox, ChannelSet.of(email=email), LINKS, NO_QUIET, [],
                                     DispatchConfig(poll_interval=timedelta(hours=1)))
        intake = AlertIntake(outbox, NO_QUIET, [], on_deliveries=dispatcher.wake)
        stop = asyncio.Event()
        running = asyncio.create_task(dispatcher.run(stop))
        seen: list[int] = []
        try:
            await asyncio.sleep(0.5)  # the first round finds nothing and starts its hour-long wait
            for step in ("opened", "closed"):
                await intake.on_trigger(trigger(step=step, at=datetime.now(UTC)), shipment())
                for _ in range(200):
                    if len(inbox.messages) >= 2 * (len(seen) + 1):
                        break
                    await asyncio.sleep(0.05)
                seen.append(len(inbox.messages))
        finally:
            stop.set()
            await asyncio.wait_for(running, 10)  # stop wakes it too
            await outbox.close()
        return seen

    with smtp_server(inbox) as port:
        seen = asyncio.run(go(port))
    assert seen == [2, 4]
    assert sorted(str(m["Subject"]).split(":")[1].strip() for m in inbox.messages) == [
        "Temperature high ended - SHP-2026-0001"] * 2 + ["Temperature high started - SHP-2026-0001"] * 2
