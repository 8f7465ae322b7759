"""Signed SMS replies: Twilio's documented scheme and the generic gateway's HMAC."""

from __future__ import annotations

import time

from services.api.sms_inbound import gateway_signature, gateway_valid, parse_reply, twilio_signature, twilio_valid

# Twilio's own worked example (its "Validating requests" documentation).
TWILIO_TOKEN = "12345"
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
                 "From": "+12349013030", "To": "+18005551212"}


def test_twilio_signature_matches_twilios_published_example() -> None:
    assert twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert twilio_valid(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not twilio_valid(TWILIO_TOKEN, TWILIO_URL, {**TWILIO_PARAMS, "From": "+19995550000"},
                            "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not twilio_valid("another-token", TWILIO_URL, TWILIO_PARAMS, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")


def test_gateway_signature_binds_body_and_time_and_refuses_replays() -> None:
    body, now = b'{"from": "+8613800000000", "body": "ACK 7KQ2MX"}', time.time()
    stamp = str(int(now))
    header = gateway_signature("s3cret", stamp, body)
    assert header.startswith("sha256=") and gateway_valid("s3cret", stamp, body, header, now)
    assert not gateway_valid("s3cret", stamp, body.replace(b"+86", b"+19"), header, now)  # another sender
    assert not gateway_valid("wrong", stamp, body, header, now)
    assert not gateway_valid("s3cret", stamp, body, header, now + 301)  # a replay, later
    assert not gateway_valid("s3cret", "soon", body, header, now)


def test_replies_are_parsed_as_ack_and_a_code() -> None:
    assert parse_reply(" ack 7kq2mx ") == "7KQ2MX"
    assert parse_reply("ACK") is None and parse_reply("yes ACK 7KQ2MX") is None and parse_reply("") is None
