"""The webhook channel against a real local HTTP receiver that checks every POST with
``verify_signature``, driven by the real dispatcher and policy over an in-memory outbox
with the claim/lease/retry rules of services/alerts/outbox.py (the PostgreSQL outbox
itself is exercised in tests/integration/alerts/test_webhook_dispatch.py).

The receiver is what the docs ask of a partner: it stores an event once per
``Idempotency-Key`` and answers 2xx only after storing it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from schemas.alert import Alert, ChannelName
from schemas.shipment import ShipmentIn
from services.alerts.backoff import Backoff
from services.alerts.channel_set import ChannelSet
from services.alerts.channels.base import PermanentDeliveryError, RetryableDeliveryError
from services.alerts.channels.webhook import WebhookChannel
from services.alerts.dispatcher import AlertDispatcher, DispatchConfig
from services.alerts.formatting import LinkConfig
from services.alerts.messages import WebhookMessage
from services.alerts.outbox import ClaimedDelivery
from services.alerts.policy import AlertState, PlannedDelivery, PolicyConfig, QuietHours, handle_trigger, recipients_for
from services.alerts.webhook_signature import verify_signature
from tests.component.alerts.local_servers import free_port, serving
from tests.unit.alerts.factories import T0, shipment, trigger

SECRET = b"whsec-hangzhou-fresh-0123456789"
LINKS = LinkConfig(public_url="https://coldchain.example", ack_secret=b"ack-secret-for-tests")
NO_QUIET = PolicyConfig(quiet_hours=QuietHours(channels=frozenset()))


# --- the partner's receiver ----------------------------------------------------------


@dataclass
class Post:
    key: str
    timestamp: str
    signature: str
    body: bytes
    valid: bool
    status: int


@dataclass
class Receiver:
    """Verifies, then stores by Idempotency-Key; ``unavailable`` answers 503 that many times;
    ``slow_first_s`` stores the first event but answers it late (a lost answer)."""

    secret: bytes
    unavailable: int = 0
    slow_first_s: float = 0.0
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, float]:
        key = headers.get("Idempotency-Key", "")
        stamp, sig = headers.get("Coldchain-Timestamp", ""), headers.get("Coldchain-Signature", "")
        valid = verify_signature(self.secret, stamp, body, sig)
        delay = 0.0
        with self.lock:
            if not valid:
                status = 401
            elif self.unavailable > 0:
                self.unavailable -= 1
                status = 503
            else:
                if not self.stored and self.slow_first_s:
                    delay = self.slow_first_s
                self.stored.setdefault(key, json.loads(body))  # a repeat of a stored key is done already
                status = 200
            self.posts.append(Post(key, stamp, sig, body, valid, status))
        return status, delay

    def accepted(self) -> list[str]:
        return [p.key for p in self.posts if p.status == 200]


@contextmanager
def receiving(receiver: Receiver, port: int) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, delay = receiver.answer(dict(self.headers.items()), body)
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    with serving(Handler, port) as base:
        yield base


# --- an outbox in memory, with the PostgreSQL one's claim rules ------------------------


@dataclass
class Row:
    planned: PlannedDelivery
    alert: Alert
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime = T0
    claim_token: str | None = None
    claimed_until: datetime | None = None
    last_error: str | None = None


class MemoryOutbox:
    def __init__(self, alerts: Sequence[Alert], deliveries: Sequence[PlannedDelivery]) -> None:
        by_id = {a.id: a for a in alerts}
        self.rows = {d.id: Row(d, by_id[d.alert_id], next_attempt_at=d.not_before) for d in deliveries}

    async def claim_due(self, now: datetime, channels: Sequence[ChannelName], limit: int, claim_token: str,
                        lease: timedelta) -> list[ClaimedDelivery]:
        due = [r for r in self.rows.values() if r.planned.channel in channels and (
            (r.status == "pending" and r.next_attempt_at <= now)
            or (r.status == "sending" and r.claimed_until is not None and r.claimed_until <= now))]
        claimed = []
        for row in sorted(due, key=lambda r: r.next_attempt_at)[:limit]:
            was = row.status
            row.status, row.attempts, row.claim_token, row.claimed_until = "sending", row.attempts + 1, claim_token, \
                now + lease
            d = row.planned
            claimed.append(ClaimedDelivery(d.id, row.alert, d.role, d.channel, d.address, d.recipient_name,
                                           d.timezone, row.attempts, claim_token, was == "sending",
                                           d.timezone_source, d.language, d.secret_ref))
        return claimed

    def _finish(self, delivery: ClaimedDelivery, **changes: Any) -> bool:
        row = self.rows[delivery.id]
        if row.status != "sending" or row.claim_token != delivery.claim_token:
            return False  # a stale holder's update is a no-op
        for name, value in changes.items():
            setattr(row, name, value)
        row.claim_token = row.claimed_until = None
        return True

    async def mark_sent(self, delivery: ClaimedDelivery, now: datetime, sent: object) -> bool:
        return self._finish(delivery, status="sent", last_error=None)

    async def mark_retry(self, delivery: ClaimedDelivery, next_attempt_at: datetime, error: str) -> bool:
        return self._finish(delivery, status="pending", next_attempt_at=next_attempt_at, last_error=error)

    async def mark_failed(self, delivery: ClaimedDelivery, error: str) -> bool:
        return self._finish(delivery, status="failed", last_error=error)

    async def escalate(self, now: datetime, after: timedelta, plan: Callable[..., object]) -> list[Alert]:
        return []


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# --- the run ---------------------------------------------------------------------------


def _buyer_with_webhook(url: str) -> ShipmentIn:
    body = shipment().model_dump(mode="json")
    body["buyer"]["webhook"] = {"url": f"{url}/coldchain", "secret_ref": "hangzhou-fresh"}
    return ShipmentIn.model_validate(body)


def _planned(url: str) -> tuple[list[Alert], list[PlannedDelivery]]:
    """A warning and a critical excursion of the shipment, through the real policy."""
    recipients = recipients_for(_buyer_with_webhook(url))
    state, alerts, deliveries = AlertState(), [], []
    for trig in (trigger("exc-1", severity="warning"), trigger("exc-2", severity="critical", kind="temp_low")):
        outcome = handle_trigger(state, trig, recipients, NO_QUIET, T0)
        state = outcome.state
        alerts += outcome.alerts
        deliveries += [d for d in outcome.deliveries if d.channel == "webhook"]
    return alerts, deliveries


async def _rounds(outbox: MemoryOutbox, clock: Clock, between: Callable[[int], None], count: int,
                  timeout_s: float = 5.0) -> None:
    """``count`` dispatcher rounds, ``between(i)`` before each, the clock past any backoff after."""
    channels = ChannelSet.of(webhook=WebhookChannel({"hangzhou-fresh": SECRET}, timeout_s=timeout_s))
    config = DispatchConfig(backoff=Backoff(base=timedelta(seconds=10), cap=timedelta(minutes=1), max_attempts=8))
    dispatcher = AlertDispatcher(outbox, channels, LINKS, NO_QUIET, [], config, clock=clock)  # type: ignore[arg-type]
    await channels.start()
    try:
        for index in range(count):
            between(index)
            await dispatcher.run_once()
            clock.now += timedelta(minutes=2)
    finally:
        await channels.close()


def test_each_alert_arrives_once_signed_while_the_receiver_is_down_then_failing_then_up() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    alerts, deliveries = _planned(url)
    assert len(deliveries) == 2 and {d.secret_ref for d in deliveries} == {"hangzhou-fresh"}
    outbox = MemoryOutbox(alerts, deliveries)
    clock = Clock(T0)
    receiver = Receiver(SECRET, unavailable=2)
    errors: list[str | None] = []

    with ExitStack() as up:

        def between(index: int) -> None:
            errors.extend(r.last_error for r in outbox.rows.values())
            if index == 1:  # nothing listens in the first round: connection refused
                up.enter_context(receiving(receiver, port))

        asyncio.run(_rounds(outbox, clock, between, 5))

    assert any(e and "ConnectError" in e for e in errors)  # refused while down
    assert any(e and "webhook HTTP 503" in e for e in errors)  # then 503
    assert {r.status for r in outbox.rows.values()} == {"sent"}
    # Every POST was signed right; each alert was stored exactly once, under its delivery id.
    assert all(p.valid for p in receiver.posts)
    assert [p.status for p in receiver.posts].count(503) == 2
    assert sorted(receiver.accepted()) == sorted(d.id for d in deliveries)
    assert {k: v["alert"]["id"] for k, v in receiver.stored.items()} == {d.id: d.alert_id for d in deliveries}
    assert {v["alert"]["severity"] for v in receiver.stored.values()} == {"warning", "critical"}
    # Retries of a delivery send the same body; only its timestamp and signature are new.
    for key in receiver.stored:
        assert len({p.body for p in receiver.posts if p.key == key}) == 1

    # A tampered body (or a signature moved to another body) does not verify.
    post = next(p for p in receiver.posts if p.status == 200 and json.loads(p.body)["alert"]["severity"] == "critical")
    assert verify_signature(SECRET, post.timestamp, post.body, post.signature)
    tampered = post.body.replace(b'"severity":"critical"', b'"severity":"warning"')
    assert tampered != post.body
    assert not verify_signature(SECRET, post.timestamp, tampered, post.signature)
    other = next(p for p in receiver.posts if p.key != post.key)
    assert not verify_signature(SECRET, post.timestamp, other.body, post.signature)


def test_a_lost_answer_is_resent_with_the_same_key_and_stored_once() -> None:
    port = free_port()
    alerts, deliveries = _planned(f"http://127.0.0.1:{port}")
    first = deliveries[:1]
    outbox = MemoryOutbox(alerts, first)
    clock = Clock(T0)
    # The receiver stores the event, but its answer comes after the sender gave up waiting.
    receiver = Receiver(SECRET, slow_first_s=1.5)
    with receiving(receiver, port):
        asyncio.run(_rounds(outbox, clock, lambda _: None, 3, timeout_s=0.5))
    [row] = outbox.rows.values()
    assert (row.status, row.attempts) == ("sent", 2)
    keys = [p.key for p in receiver.posts]
    assert keys == [first[0].id, first[0].id]  # resent under the same Idempotency-Key...
    assert list(receiver.stored) == [first[0].id]  # ...and stored once


def test_channel_answers() -> None:
    async def send(channel: WebhookChannel, message: WebhookMessage) -> str | None:
        await channel.start()
        try:
            return await channel.send(message)
        finally:
            await channel.close()

    port = free_port()
    receiver = Receiver(SECRET)
    message = WebhookMessage("dl-1", f"http://127.0.0.1:{port}/h", "hangzhou-fresh", b'{"a":1}')
    with receiving(receiver, port):
        assert asyncio.run(send(WebhookChannel({"hangzhou-fresh": SECRET}), message)) == "HTTP 200"
        # Signed with a secret the receiver does not hold: its 401 is retried, not dropped.
        with pytest.raises(RetryableDeliveryError, match="HTTP 401"):
            asyncio.run(send(WebhookChannel({"hangzhou-fresh": b"not-the-secret"}), message))
        with pytest.raises(RetryableDeliveryError, match="no secret named 'hangzhou-fresh'"):
            asyncio.run(send(WebhookChannel({"other": SECRET}), message))
    with pytest.raises(PermanentDeliveryError, match="https"):
        asyncio.run(send(WebhookChannel({"hangzhou-fresh": SECRET}), replace(message, url="http://example.com/h")))
    assert [p.status for p in receiver.posts] == [200, 401]
