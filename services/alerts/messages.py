"""The messages channels send: already formatted, addressed, and identified by delivery."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SmsMessage:
    delivery_id: str
    to: str  # +E164
    body: str  # GSM-7, at most one 160-character segment


@dataclass(frozen=True)
class EmailMessage:
    delivery_id: str
    to: str
    to_name: str
    subject: str
    text: str
    html: str
