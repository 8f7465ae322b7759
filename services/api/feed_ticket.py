"""Short-lived signed tickets for the live feed (pure: HMAC only).

A browser's ``EventSource`` cannot send an ``Authorization`` header, and a bearer token in a
URL ends up in access logs and history. So a client with a bearer token asks
``POST /api/v1/feed/ticket`` for a ticket, and opens ``GET /api/v1/feed?ticket=...``. A
ticket names the token it was issued for (not the token itself), expires after minutes,
and is checked against the token's row on every connect, so revoking the token ends it too.

Form: ``{token_id}.{expires_epoch_s}.{hmac_sha256_hex}``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta


class BadTicket(ValueError):
    pass


@dataclass(frozen=True)
class FeedTicket:
    token_id: str
    expires_at: datetime


def issue_ticket(secret: bytes, token_id: str, now: datetime, ttl: timedelta) -> tuple[str, datetime]:
    expires = int((now + ttl).timestamp())
    payload = f"{token_id}.{expires}"
    return f"{payload}.{_signature(secret, payload)}", datetime.fromtimestamp(expires, now.tzinfo)


def verify_ticket(secret: bytes, ticket: str, now: datetime) -> FeedTicket:
    parts = ticket.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        raise BadTicket("malformed feed ticket")
    token_id, expires, signature = parts
    if not hmac.compare_digest(signature, _signature(secret, f"{token_id}.{expires}")):
        raise BadTicket("feed ticket signature does not match")
    expires_at = datetime.fromtimestamp(int(expires), now.tzinfo)
    if expires_at <= now:
        raise BadTicket("feed ticket expired: ask POST /api/v1/feed/ticket for a new one")
    return FeedTicket(token_id, expires_at)


def _signature(secret: bytes, payload: str) -> str:
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
