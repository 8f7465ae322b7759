"""Channels are one map: name -> channel class; nothing else branches on a channel's name."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, get_args

from schemas.alert import ChannelName
from services.alerts.channel_set import CHANNELS, QUIET_CHANNELS, ChannelSet, Sent
from services.alerts.formatting import LinkConfig
from services.alerts.outbox import ClaimedDelivery
from services.alerts.policy import Recipient
from tests.unit.alerts.factories import every_alert

LINKS = LinkConfig(public_url="https://cc.example", ack_secret=b"s" * 32)


def test_every_channel_name_has_exactly_one_channel_class() -> None:
    assert set(CHANNELS) == set(get_args(ChannelName))
    assert all(kind.name == name for name, kind in CHANNELS.items())


def test_each_channel_finds_its_own_address() -> None:
    who = Recipient(role="buyer", name="B", email=" QA@Buyer.example ", phone="+8657155500100",
                    webhook_url="https://b.example/hook", webhook_secret_ref="b")
    assert {name: who.address_for(name) for name in CHANNELS} == {
        "email": "qa@buyer.example", "sms": "+8657155500100", "webhook": "https://b.example/hook"}
    assert {name: who.secret_ref_for(name) for name in CHANNELS} == {"email": None, "sms": None, "webhook": "b"}
    assert QUIET_CHANNELS == ("email", "sms")  # a webhook is a machine: never deferred


class _Provider:
    def __init__(self, accepted: bool = False) -> None:
        self.sent: list[Any] = []
        self.accepted = accepted

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, message: Any) -> str:
        self.sent.append(message)
        return "ref-1"

    async def already_accepted(self, message: Any) -> bool:
        return self.accepted


def _claimed(channel: ChannelName, address: str, reclaimed: bool = False) -> ClaimedDelivery:
    return ClaimedDelivery(id="dl-1", alert=every_alert()[0], role="buyer", channel=channel, address=address,
                           recipient_name="Buyer", timezone="UTC", attempts=1, claim_token="c", reclaimed=reclaimed)


def test_a_channel_renders_its_own_message_and_reports_what_went() -> None:
    sms, email = _Provider(), _Provider()
    channels = ChannelSet.of(sms=sms, email=email)
    assert channels.names() == ["email", "sms"] and "webhook" not in channels
    sent = asyncio.run(channels["sms"].send(_claimed("sms", "+19025550100"), UTC, LINKS))
    assert sent.provider_ref == "ref-1" and sent.sms is not None and sent.sms.segments >= 1
    assert sms.sent[0].to == "+19025550100"
    mailed = asyncio.run(channels["email"].send(_claimed("email", "qa@buyer.example"), UTC, LINKS))
    assert mailed == Sent("ref-1") and email.sent[0].to == "qa@buyer.example"


def test_a_reclaimed_delivery_the_provider_has_is_not_sent_again() -> None:
    provider = _Provider(accepted=True)
    sent = asyncio.run(ChannelSet.of(sms=provider)["sms"].send(_claimed("sms", "+1", reclaimed=True), UTC, LINKS))
    assert sent.provider_ref == "already-accepted" and provider.sent == []


def test_the_alert_event_constructor_carries_the_alert() -> None:
    from schemas.alert import alert_event

    alert = every_alert()[0]
    at = datetime(2026, 11, 10, tzinfo=UTC)
    event = alert_event(alert, "sent", at, role="buyer", channel="sms")
    assert (event.alert_id, event.shipment_id, event.kind, event.step, event.severity) == (
        alert.id, alert.shipment_id, alert.kind, alert.step, alert.severity)
    assert (event.status, event.at, event.role, event.channel, event.detail) == ("sent", at, "buyer", "sms", None)
