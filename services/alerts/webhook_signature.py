"""Signing of webhook deliveries, and its check for receivers (standard library only, so a
receiver written in Python can copy this file as it is).

Each POST carries:

- ``Coldchain-Timestamp``: when it was sent, Unix seconds (a new one on every attempt);
- ``Coldchain-Signature``: ``v1=`` and the hex HMAC-SHA256, keyed with the endpoint's
  secret, of ``"{timestamp}.{body}"``: the timestamp header, a full stop, and the raw
  request body bytes exactly as received (before any JSON parsing);
- ``Idempotency-Key``: the delivery id, the same on every attempt of the same delivery.

A receiver recomputes the HMAC over the raw body, compares in constant time, refuses a
timestamp more than ``tolerance_s`` away from its clock (a replayed capture), answers 2xx
once it has *stored* the event, and treats a second POST with an ``Idempotency-Key`` it
has already stored as done (answer 2xx again): the sender retries until it sees a 2xx, so
a lost answer means a resend. More ``v1=`` entries, comma-separated, may follow in
future (one per secret while a secret is being rotated): any one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SCHEME = "v1"
TIMESTAMP_HEADER = "Coldchain-Timestamp"
SIGNATURE_HEADER = "Coldchain-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def _key(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def signature(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"{timestamp}.{body}"``."""
    return hmac.new(_key(secret), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: str | bytes, timestamp: str, body: bytes) -> str:
    return f"{SCHEME}={signature(secret, timestamp, body)}"


def verify_signature(secret: str | bytes, timestamp: str, body: bytes, header: str, tolerance_s: float = 300,
                     now: float | None = None) -> bool:
    """True when ``header`` (the ``Coldchain-Signature`` value) signs ``body`` at ``timestamp``
    (the ``Coldchain-Timestamp`` value) with ``secret``, and the timestamp is within
    ``tolerance_s`` seconds of ``now`` (default: this machine's clock)."""
    try:
        sent = int(timestamp.strip())
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance_s:
        return False
    expected = signature(secret, str(sent), body)
    # Any v1 entry may match (several while a secret is rotated); other schemes are ignored.
    candidates = [v.strip() for k, _, v in (p.strip().partition("=") for p in header.split(",")) if k == SCHEME]
    return any(hmac.compare_digest(expected, c) for c in candidates)
