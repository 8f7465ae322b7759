"""Webhook deliveries through the PostgreSQL outbox (migration 0330 included), the real
dispatcher and a real local receiver that verifies signatures: a receiver down for
minutes loses and repeats nothing; a dispatcher that dies mid-send is retaken after its
lease and the resend carries the same Idempotency-Key."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from schemas.shipment import ShipmentIn
from services.alerts.channel_set import ChannelSet
from services.alerts.channels.webhook import WebhookChannel
from services.alerts.outbox import AlertOutbox
from services.alerts.policy import handle_trigger, recipients_for
from services.alerts.webhook_signature import verify_signature
from tests.component.alerts.local_servers import HttpScript, free_port, http_server
from tests.integration.alerts import test_outbox_dispatch as outbox_tests
from tests.integration.alerts.test_outbox_dispatch import NO_QUIET, SECRET, START, Clock, _dispatcher, _rows
from tests.unit.alerts.factories import shipment, trigger

pytestmark = pytest.mark.integration

HOOK_SECRET = b"whsec-integration-0123456789"
alert_db = outbox_tests.alert_db  # the private-schema outbox (every 03xx migration, 0330 too)


def _hooked(url: str) -> ShipmentIn:
    body = shipment().model_dump(mode="json")
    body["buyer"]["webhook"] = {"url": url, "secret_ref": "buyer"}
    return ShipmentIn.model_validate(body)


async def _intake(outbox: AlertOutbox, url: str, severity: str, trigger_id: str) -> None:
    recipients = recipients_for(_hooked(url))
    trig = trigger(trigger_id, severity=severity)  # type: ignore[arg-type]
    await outbox.apply(trig.shipment_id, lambda state: handle_trigger(state, trig, recipients, NO_QUIET, START),
                       START)


def test_receiver_down_then_failing_gets_each_alert_once(alert_db: str) -> None:
    script = HttpScript(replies=[(503, {})] * 2, default=(204, {}))
    port = free_port()

    async def go() -> None:
        outbox = AlertOutbox(alert_db, SECRET)
        channels = ChannelSet.of(webhook=WebhookChannel({"buyer": HOOK_SECRET}, timeout_s=5))
        await outbox.start()
        await channels.start()
        clock = Clock(START)
        try:
            await _intake(outbox, f"http://127.0.0.1:{port}/hook", "warning", "exc-w")
            await _intake(outbox, f"http://127.0.0.1:{port}/hook", "critical", "exc-c")
            dispatcher = _dispatcher(outbox, channels, clock)
            await dispatcher.run_once()  # nothing listens yet: refused
            with http_server(script, port=port):
                for _ in range(6):
                    clock.advance(timedelta(minutes=3))
                    await dispatcher.run_once()
        finally:
            await channels.close()
            await outbox.close()

    asyncio.run(go())
    rows = _rows(alert_db, "SELECT status, secret_ref, attempts FROM alert_deliveries WHERE channel = 'webhook'")
    assert sorted(rows) == [("sent", "buyer", 3), ("sent", "buyer", 3)]
    accepted = script.requests[2:]
    assert sorted(Counter(r.headers["Idempotency-Key"] for r in accepted).values()) == [1, 1]
    for request in script.requests:
        assert verify_signature(HOOK_SECRET, request.headers["Coldchain-Timestamp"], request.body,
                                request.headers["Coldchain-Signature"])


def test_crash_mid_send_is_resent_under_the_same_key(alert_db: str) -> None:
    script = HttpScript(default=(200, {}))
    port = free_port()

    async def go() -> None:
        outbox = AlertOutbox(alert_db, SECRET)
        channels = ChannelSet.of(webhook=WebhookChannel({"buyer": HOOK_SECRET}, timeout_s=5))
        await outbox.start()
        await channels.start()
        clock = Clock(START)
        try:
            await _intake(outbox, f"http://127.0.0.1:{port}/hook", "critical", "exc-x")
            # A dispatcher claims the webhook delivery and dies before recording anything.
            [claimed] = await outbox.claim_due(clock.now, ["webhook"], 10, "dead", timedelta(minutes=5))
            assert claimed.secret_ref == "buyer"
            dispatcher = _dispatcher(outbox, channels, clock)
            with http_server(script, port=port):
                await dispatcher.run_once()  # still leased: untouched
                clock.advance(timedelta(minutes=6))
                await dispatcher.run_once()  # retaken and sent
        finally:
            await channels.close()
            await outbox.close()

    asyncio.run(go())
    [request] = script.requests
    [(delivery_id, status)] = _rows(alert_db, "SELECT id, status FROM alert_deliveries WHERE channel = 'webhook'")
    assert (request.headers["Idempotency-Key"], status) == (delivery_id, "sent")

