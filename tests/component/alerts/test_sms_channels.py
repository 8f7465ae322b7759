from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest

from services.alerts.channels.base import (
    Channel,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from services.alerts.channels.sms_gateway import HttpSmsGateway
from services.alerts.channels.twilio import TwilioSms
from services.alerts.messages import SmsMessage
from tests.component.alerts.local_servers import HttpScript, free_port, http_server

SMS = SmsMessage(delivery_id="dl-7", to="+8657155500100", body="CRITICAL SHP-1: hot. Reply ACK X")
T = TypeVar("T")


def _with(channel: Channel[SmsMessage], use: Callable[[], Awaitable[T]]) -> T:
    async def go() -> T:
        await channel.start()
        try:
            return await use()
        finally:
            await channel.close()

    return asyncio.run(go())


# --- generic HTTP gateway ------------------------------------------------------------


def test_gateway_posts_exactly_to_and_body_as_json() -> None:
    script = HttpScript(default=(202, {"id": "gw-42"}))
    with http_server(script) as base:
        gateway = HttpSmsGateway(f"{base}/send")
        ref = _with(gateway, lambda: gateway.send(SMS))
    [request] = script.requests
    assert (request.method, request.path) == ("POST", "/send")
    assert json.loads(request.body) == {"to": SMS.to, "body": SMS.body}
    assert request.headers["Idempotency-Key"] == "dl-7"
    assert ref == "gw-42"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, RetryableDeliveryError),
        (503, RetryableDeliveryError),
        (429, RetryableDeliveryError),
        (400, PermanentDeliveryError),
        (422, PermanentDeliveryError),
    ],
)
def test_gateway_error_statuses(status: int, error: type[Exception]) -> None:
    script = HttpScript(default=(status, {"error": "nope"}))
    with http_server(script) as base, pytest.raises(error):
        gateway = HttpSmsGateway(base)
        _with(gateway, lambda: gateway.send(SMS))


def test_gateway_down_is_retryable() -> None:
    gateway = HttpSmsGateway(f"http://127.0.0.1:{free_port()}/send", timeout_s=2)
    with pytest.raises(RetryableDeliveryError):
        _with(gateway, lambda: gateway.send(SMS))


# --- Twilio --------------------------------------------------------------------------


def _twilio(base: str) -> TwilioSms:
    return TwilioSms("AC123", "tw-token", "+15550001111", base_url=base, timeout_s=2)


def test_twilio_form_post_with_basic_auth() -> None:
    script = HttpScript(default=(201, {"sid": "SM0001", "status": "queued"}))
    with http_server(script) as base:
        twilio = _twilio(base)
        sid = _with(twilio, lambda: twilio.send(SMS))
    [request] = script.requests
    assert request.method == "POST"
    assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {
        "To": [SMS.to],
        "From": ["+15550001111"],
        "Body": [SMS.body],
    }
    expected = base64.b64encode(b"AC123:tw-token").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert sid == "SM0001"


def test_twilio_invalid_number_is_permanent_and_outage_retryable() -> None:
    script = HttpScript(replies=[(400, {"code": 21211}), (503, {})])
    with http_server(script) as base:
        twilio = _twilio(base)
        with pytest.raises(PermanentDeliveryError):
            _with(twilio, lambda: twilio.send(SMS))
        with pytest.raises(RetryableDeliveryError):
            _with(twilio, lambda: twilio.send(SMS))


def test_twilio_already_accepted_looks_for_the_same_body_to_the_same_number() -> None:
    listed = {"messages": [{"to": SMS.to, "body": SMS.body, "status": "delivered"}]}
    script = HttpScript(replies=[(200, listed), (200, {"messages": []})])
    with http_server(script) as base:
        twilio = _twilio(base)
        assert _with(twilio, lambda: twilio.already_accepted(SMS)) is True
        assert _with(twilio, lambda: twilio.already_accepted(SMS)) is False
    query = parse_qs(urlsplit(script.requests[0].path).query)
    assert query["To"] == [SMS.to] and query["From"] == ["+15550001111"]
