"""Who may tell coldchain that a person replied "ACK CODE" to an alert SMS (pure checks).

A reply is trusted only when its provider vouches for it:

- **Twilio** posts form data signed with the account's auth token: ``X-Twilio-Signature`` is
  base64(HMAC-SHA1(auth token, the full URL Twilio called + every POST parameter's name and
  value, sorted by name)) — Twilio's documented scheme.
- **The generic HTTP gateway** (``COLDCHAIN_SMS_URL``) posts JSON ``{"from", "body"}`` with
  ``X-Coldchain-Timestamp: <unix seconds>`` and
  ``X-Coldchain-Signature: sha256=<hex HMAC-SHA256(COLDCHAIN_SMS_INBOUND_SECRET, "<timestamp>.<raw body>")>``,
  refused when the timestamp is more than five minutes away (no replays).
- An ops bearer token (for tests and manual relays) as before.

The sender's number is then matched against the delivery: a code is accepted only from the
number the alert was sent to (``services/alerts/outbox.acknowledge_by_reply``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Mapping

REPLAY_WINDOW_S = 300


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    signed = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    mac = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def twilio_valid(auth_token: str, url: str, params: Mapping[str, str], header: str) -> bool:
    return hmac.compare_digest(twilio_signature(auth_token, url, params), header)


def gateway_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def gateway_valid(secret: str, timestamp: str, body: bytes, header: str, now_s: float) -> bool:
    if not timestamp.isdigit() or abs(now_s - int(timestamp)) > REPLAY_WINDOW_S:
        return False
    return hmac.compare_digest(gateway_signature(secret, timestamp, body), header)


# The reply keyword, the same in every language an SMS is written in ("Répondez ACK 7KQ2MX",
# "确认请回复 ACK 7KQ2MX"): one parser serves every recipient.
ACK_KEYWORD = "ACK"


def parse_reply(text: str) -> str | None:
    """The code of an "ACK CODE" reply (any case, spaces around), else None.

    NFKC first: a Chinese phone's keyboard may send full-width letters and an ideographic
    space ("ＡＣＫ　７ＫＱ２ＭＸ"), which are the same reply.
    """
    words = unicodedata.normalize("NFKC", text).split()
    return words[1].upper() if len(words) == 2 and words[0].upper() == ACK_KEYWORD else None
