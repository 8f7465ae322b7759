"""The messages channels send: already formatted, addressed, and identified by delivery."""

from __future__ import annotations

from dataclasses import dataclass

from services.alerts.sms_encoding import SmsSize, sms_size


@dataclass(frozen=True)
class SmsMessage:
    delivery_id: str
    to: str  # +E164
    body: str  # as sent: GSM-7 when it can be, else UCS-2 (see sms_encoding)

    @property
    def size(self) -> SmsSize:
        """Its encoding and segment count, as the provider bills it."""
        return sms_size(self.body)


@dataclass(frozen=True)
class WebhookMessage:
    """A signed POST to ``url``: ``body`` is signed as sent, with the secret ``secret_ref`` names."""

    delivery_id: str
    url: str
    secret_ref: str
    body: bytes  # JSON (services/alerts/webhook_payload.py)


@dataclass(frozen=True)
class EmailMessage:
    delivery_id: str
    to: str
    to_name: str
    subject: str
    text: str
    html: str
    language: str = "en"  # BCP 47, what it is written in (its Content-Language)
