"""Webhook signing, payload, configuration and routing (the channel itself is in
tests/component/alerts/test_webhook_channel.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from schemas.alert import Alert
from schemas.shipment import Party, ShipmentIn
from services.alerts.formatting import LinkConfig, shipment_url
from services.alerts.policy import (
    AlertState,
    PolicyConfig,
    QuietHours,
    handle_trigger,
    recipients_for,
)
from services.alerts.settings import DEPLOYMENT_SECRET_REF, AlertSettings
from services.alerts.webhook_payload import webhook_body
from services.alerts.webhook_signature import signature, signature_header, verify_signature
from tests.unit.alerts.factories import T0, shipment, trigger

SECRET = "whsec-test-0123456789"
BODY = b'{"type":"coldchain.alert","delivery_id":"dl-1"}'
NOW = 1_790_000_000
LINKS = LinkConfig(public_url="https://coldchain.example", ack_secret=b"ack-secret-for-tests")
HOOK = {"url": "https://hooks.buyer.example/coldchain", "secret_ref": "hangzhou-fresh"}


# --- signature -----------------------------------------------------------------------


def test_a_signature_verifies() -> None:
    header = signature_header(SECRET, str(NOW), BODY)
    assert header.startswith("v1=") and len(header) == 3 + 64
    assert verify_signature(SECRET, str(NOW), BODY, header, now=NOW + 10)
    assert verify_signature(SECRET.encode(), str(NOW), BODY, header, now=NOW - 10)


def test_the_signed_text_is_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, str(NOW), BODY) == expected


@pytest.mark.parametrize(
    ("secret", "timestamp", "body", "now"),
    [
        (SECRET, str(NOW), BODY.replace(b"dl-1", b"dl-2"), NOW),  # tampered body
        ("another-secret", str(NOW), BODY, NOW),  # wrong secret
        (SECRET, str(NOW + 1), BODY, NOW),  # timestamp changed
        (SECRET, str(NOW), BODY, NOW + 301),  # too old: a replayed capture
        (SECRET, str(NOW), BODY, NOW - 301),  # too far ahead
        (SECRET, "yesterday", BODY, NOW),
    ],
)
def test_anything_changed_fails(secret: str, timestamp: str, body: bytes, now: int) -> None:
    header = signature_header(SECRET, str(NOW), BODY)
    assert not verify_signature(secret, timestamp, body, header, now=now)


def test_header_forms() -> None:
    good = signature(SECRET, str(NOW), BODY)
    assert verify_signature(SECRET, str(NOW), BODY, f"v1=0000, v1={good}", now=NOW)  # rotation
    assert verify_signature(SECRET, str(NOW), BODY, f"v0=abc,v1={good}", now=NOW)
    assert not verify_signature(SECRET, str(NOW), BODY, good, now=NOW)  # no scheme
    assert not verify_signature(SECRET, str(NOW), BODY, f"v2={good}", now=NOW)
    assert not verify_signature(SECRET, str(NOW), BODY, "", now=NOW)
    assert verify_signature(SECRET, str(NOW), BODY, f"v1={good}", tolerance_s=3600, now=NOW + 3000)


# --- payload -------------------------------------------------------------------------


def _alert(closed: bool = False) -> Alert:
    recipients = recipients_for(shipment())
    opened = handle_trigger(AlertState(), trigger(), recipients, PolicyConfig(), T0)
    if not closed:
        return opened.alerts[0]
    # A closing first heard of is told as found late (news to acknowledge): close a told one.
    later = T0 + timedelta(hours=1)
    [closing] = handle_trigger(opened.state, trigger(step="closed", at=later), recipients, PolicyConfig(), later).alerts
    assert closing.step == "closed" and not closing.found_late
    return closing


def test_payload_is_the_alert_with_links() -> None:
    alert = _alert()
    body = webhook_body(alert, "dl-9", "buyer", "Hangzhou Fresh Ltd.", LINKS)
    assert body == webhook_body(alert, "dl-9", "buyer", "Hangzhou Fresh Ltd.", LINKS)  # same on every attempt
    payload = json.loads(body)
    assert payload["type"] == "coldchain.alert" and payload["delivery_id"] == "dl-9"
    assert payload["recipient"] == {"role": "buyer", "name": "Hangzhou Fresh Ltd."}
    assert payload["alert"]["id"] == alert.id and payload["alert"]["kind"] == "temp_high"
    assert not {"suppressed", "hold_until", "version"} & set(payload["alert"])
    page = payload["links"]["shipment"]
    assert page == shipment_url("dl-9", LINKS) and page.startswith("https://coldchain.example/s/")
    assert payload["links"]["acknowledge"] == f"{page}/ack"


def test_a_closing_has_nothing_to_acknowledge() -> None:
    payload = json.loads(webhook_body(_alert(closed=True), "dl-9", "seller", "S", LINKS))
    assert "acknowledge" not in payload["links"]


# --- registration --------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://hooks.example/x", "http://127.0.0.1:8123/hook", "http://localhost/h",
                                 "http://[::1]:9000/h"])
def test_webhook_urls_allowed(url: str) -> None:
    assert Party(name="P", webhook={"url": url, "secret_ref": "p"}).webhook is not None  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["http://hooks.example/x", "ftp://hooks.example/x", "https:///nohost",
                                 "http://10.0.0.5/h", "hooks.example/x"])
def test_webhook_urls_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="https"):
        Party(name="P", webhook={"url": url, "secret_ref": "p"})  # type: ignore[arg-type]


def test_the_secret_itself_has_no_place_in_a_registration() -> None:
    with pytest.raises(ValidationError):
        Party(name="P", webhook={**HOOK, "secret": "whsec-123"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Party(name="P", webhook={"url": HOOK["url"], "secret_ref": DEPLOYMENT_SECRET_REF})  # type: ignore[arg-type]


# --- routing -------------------------------------------------------------------------


def _with_buyer_hook() -> ShipmentIn:
    body = shipment().model_dump(mode="json")
    body["buyer"]["webhook"] = HOOK
    return ShipmentIn.model_validate(body)


@pytest.mark.parametrize("severity", ["warning", "critical"])
def test_a_party_with_a_webhook_gets_every_alert_on_it(severity: str) -> None:
    outcome = handle_trigger(AlertState(), trigger(severity=severity),  # type: ignore[arg-type]
                             recipients_for(_with_buyer_hook()), PolicyConfig(), T0)
    hooks = [d for d in outcome.deliveries if d.channel == "webhook"]
    assert [(d.role, d.address, d.secret_ref) for d in hooks] == [("buyer", HOOK["url"], "hangzhou-fresh")]
    assert all(d.secret_ref is None for d in outcome.deliveries if d.channel != "webhook")


def test_webhooks_are_not_held_for_quiet_hours() -> None:
    # 03:00 UTC is 23:00 in Halifax and 11:00 in Shanghai: make both parties quiet then.
    quiet = PolicyConfig(quiet_hours=QuietHours(start=T0.time(), end=(T0 + timedelta(hours=2)).time()))
    body = _with_buyer_hook().model_dump(mode="json")
    body["buyer"]["timezone"] = "UTC"
    outcome = handle_trigger(AlertState(), trigger(), recipients_for(ShipmentIn.model_validate(body)), quiet, T0)
    by_channel = {(d.role, d.channel): d.not_before for d in outcome.deliveries}
    assert by_channel[("buyer", "webhook")] == T0
    assert by_channel[("buyer", "email")] > T0


def test_no_webhook_no_delivery() -> None:
    outcome = handle_trigger(AlertState(), trigger(), recipients_for(shipment()), PolicyConfig(), T0)
    assert {d.channel for d in outcome.deliveries} == {"email"}


# --- deployment settings -------------------------------------------------------------


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> AlertSettings:
    monkeypatch.setenv("COLDCHAIN_ALERT_ACK_SECRET", "a-secret-of-this-deployment-0123")
    for name, value in env.items():
        monkeypatch.setenv(f"COLDCHAIN_{name}", value)
    return AlertSettings(_env_file=None)  # type: ignore[call-arg]


def test_deployment_webhook_for_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch, WEBHOOK_URL="https://ops.example/hook", WEBHOOK_SECRET="whsec-ops-1",
                         WEBHOOK_SECRETS='{"hangzhou-fresh": "whsec-buyer-2"}')
    assert settings.webhook_signing_secrets() == {"hangzhou-fresh": b"whsec-buyer-2",
                                                  DEPLOYMENT_SECRET_REF: b"whsec-ops-1"}
    assert "whsec" not in repr(settings)
    [ops] = settings.ops_recipients()
    assert (ops.address_for("webhook"), ops.secret_ref_for("webhook")) == ("https://ops.example/hook",
                                                                           DEPLOYMENT_SECRET_REF)
    assert ops.address_for("email") is None
    outcome = handle_trigger(AlertState(), trigger(), recipients_for(shipment(), [ops]), settings.policy_config(), T0)
    assert [(d.role, d.channel) for d in outcome.deliveries if d.role == "ops"] == [("ops", "webhook")]


def test_deployment_webhook_needs_https_and_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="COLDCHAIN_WEBHOOK_SECRET"):
        _settings(monkeypatch, WEBHOOK_URL="https://ops.example/hook")
    with pytest.raises(ValidationError, match="https"):
        _settings(monkeypatch, WEBHOOK_URL="http://ops.example/hook", WEBHOOK_SECRET="s")


def test_without_secrets_there_is_no_webhook_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.alerts.channel_set import build_channels

    assert "webhook" not in build_channels(_settings(monkeypatch)).names()
    with_secret = build_channels(_settings(monkeypatch, WEBHOOK_SECRETS='{"a": "b"}'))
    assert with_secret.names()[-1] == "webhook"
