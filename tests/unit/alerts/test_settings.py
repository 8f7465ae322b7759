from __future__ import annotations

from datetime import time, timedelta

import pytest
from pydantic import ValidationError

from services.alerts.channels.smtp import parse_smtp_url
from services.alerts.settings import AlertSettings


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLDCHAIN_ALERT_ACK_SECRET", "a-secret-of-this-deployment-0123")
    monkeypatch.setenv("COLDCHAIN_SMTP_URL", "smtps://bot%40x:p%3Ass@mail.example:2465")
    monkeypatch.setenv("COLDCHAIN_TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("COLDCHAIN_TWILIO_AUTH_TOKEN", "tok-secret")
    monkeypatch.setenv("COLDCHAIN_TWILIO_FROM", "+15550001111")
    monkeypatch.setenv("COLDCHAIN_ALERT_QUIET_START", "21:30")
    monkeypatch.setenv("COLDCHAIN_ALERT_ROUTES", '[{"role": "ops", "channel": "sms", "min_severity": "critical"}]')
    settings = AlertSettings(_env_file=None)  # type: ignore[call-arg]
    endpoint = settings.smtp_endpoint()
    assert (endpoint.host, endpoint.port, endpoint.use_tls) == ("mail.example", 2465, True)
    assert (endpoint.username, endpoint.password) == ("bot@x", "p:ss")
    assert settings.uses_twilio()
    assert "tok-secret" not in repr(settings)
    policy = settings.policy_config()
    assert policy.quiet_hours.start == time(21, 30)
    assert [(r.role, r.channel) for r in policy.channel_rules] == [("ops", "sms")]
    assert policy.flap_window == timedelta(minutes=30)
    with pytest.raises(ValidationError):
        settings.smtp_from = "x@y"  # type: ignore[misc]


def test_smtp_url_forms() -> None:
    plain = parse_smtp_url("smtp://localhost:1025")
    assert (plain.host, plain.port, plain.use_tls) == ("localhost", 1025, False)
    assert plain.username is None and plain.password is None
    assert parse_smtp_url("smtps://mail.example").port == 465
    assert parse_smtp_url("smtp://mail.example").port == 25
    with pytest.raises(ValueError):
        parse_smtp_url("http://mail.example")


@pytest.mark.parametrize("secret", [None, "", "short", "coldchain-development-ack-secret"])
def test_the_service_refuses_to_start_without_an_acknowledgement_secret_of_its_own(
    monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    if secret is None:
        monkeypatch.delenv("COLDCHAIN_ALERT_ACK_SECRET", raising=False)
    else:
        monkeypatch.setenv("COLDCHAIN_ALERT_ACK_SECRET", secret)
    with pytest.raises(ValidationError, match="alert_ack_secret"):
        AlertSettings(_env_file=None)  # type: ignore[call-arg]
