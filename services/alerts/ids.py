"""Deterministic identifiers and acknowledgement codes.

The same event always yields the same alert id, and the same (alert, recipient, channel)
the same delivery id, so replays and redeliveries collapse on primary keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

# Crockford-like alphabet without 0/O and 1/I/L, easy to type back from a phone.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
ACK_CODE_LENGTH = 6


def _digest(*parts: str) -> str:
    # A unit separator cannot occur in ids, so ("a", "bc") and ("ab", "c") differ.
    joined = "\x1f".join(parts).encode("utf-8")
    return hashlib.sha256(joined).hexdigest()[:32]


def alert_id(trigger_id: str, step: str) -> str:
    return "al-" + _digest("alert", trigger_id, step)


def delivery_id(alert_id: str, recipient: str, channel: str) -> str:
    """``recipient`` is the normalised address (see ``policy.Recipient.address_for``)."""
    return "dl-" + _digest("delivery", alert_id, recipient, channel)


def ack_code(alert_id: str, secret: bytes) -> str:
    """A short code for SMS replies ("ACK 7KQ2MX"); keyed, so it cannot be guessed."""
    mac = hmac.new(secret, alert_id.encode("utf-8"), hashlib.sha256).digest()
    number = int.from_bytes(mac[:8], "big")
    chars = []
    for _ in range(ACK_CODE_LENGTH):
        number, index = divmod(number, len(_CODE_ALPHABET))
        chars.append(_CODE_ALPHABET[index])
    return "".join(chars)


def ack_token(alert_id: str, secret: bytes) -> str:
    """A long token for the acknowledgement link in emails."""
    mac = hmac.new(secret, b"link\x1f" + alert_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode("ascii")


def share_token(delivery_id: str, secret: bytes) -> str:
    """The token of the page link a delivery carries: per alert, recipient and channel (the
    delivery id names all three), the same on every retry, unguessable without the secret."""
    mac = hmac.new(secret, b"share\x1f" + delivery_id.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode("ascii")


def share_link_id(token_hash: str) -> str:
    return "lnk-" + token_hash[:24]


def verify_ack_token(alert_id: str, token: str, secret: bytes) -> bool:
    return hmac.compare_digest(ack_token(alert_id, secret), token)


def ack_token_hash(token: str) -> str:
    """What the outbox stores of a link token: the API checks links without the secret."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str | None) -> bool:
    return stored_hash is not None and hmac.compare_digest(ack_token_hash(token), stored_hash)
