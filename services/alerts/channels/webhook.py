"""Alerts POSTed as signed JSON to an HTTPS endpoint (a party's, or the deployment's for ops).

Signed like Stripe's and GitHub's webhooks (services/alerts/webhook_signature.py): headers
``Coldchain-Timestamp``, ``Coldchain-Signature: v1=<hex HMAC-SHA256 of "{timestamp}.{body}">``
and ``Idempotency-Key: <delivery id>``. A 2xx answer is delivered; anything else (another
status, a redirect, a refused or timed-out connection, a missing secret) is retryable, and
the outbox tries again with backoff until it gives up. The delivery id is a hash of
(alert, url, channel), so every attempt of one delivery carries the same key and a
receiver that keeps the keys it stored gets each alert exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import httpx

from schemas.shipment import check_webhook_url
from services.alerts.channels.base import PermanentDeliveryError, RetryableDeliveryError
from services.alerts.messages import WebhookMessage
from services.alerts.webhook_signature import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_header,
)

USER_AGENT = "coldchain-webhook/1"


class WebhookChannel:
    def __init__(self, secrets: Mapping[str, bytes], timeout_s: float = 15.0,
                 clock: Callable[[], float] = time.time) -> None:
        """``secrets``: secret name -> secret (the ``secret_ref`` of a delivery picks one)."""
        self._secrets = dict(secrets)
        self._timeout_s = timeout_s
        self._clock = clock
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        # No redirects: a 3xx is not a delivery, and the signature is for the URL configured.
        self._client = httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, message: WebhookMessage) -> str | None:
        client = self._require_client()
        try:
            check_webhook_url(message.url)  # rows outlive the rules they were planned under
        except ValueError as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        secret = self._secrets.get(message.secret_ref)
        if secret is None:
            # A configuration fix must not lose what is queued: wait for the secret.
            raise RetryableDeliveryError(f"webhook: no secret named {message.secret_ref!r} is configured")
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature_header(secret, timestamp, message.body),
            IDEMPOTENCY_HEADER: message.delivery_id,
        }
        try:
            response = await client.post(message.url, content=message.body, headers=headers)
        except httpx.HTTPError as exc:
            raise RetryableDeliveryError(f"webhook: {exc!r}") from exc
        if not 200 <= response.status_code < 300:
            raise RetryableDeliveryError(f"webhook HTTP {response.status_code}: {response.text[:200]}")
        return f"HTTP {response.status_code}"

    async def already_accepted(self, message: WebhookMessage) -> bool:
        return False  # the receiver cannot be asked; the Idempotency-Key is the guard

    def _require_client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("WebhookChannel.start() was not called")
        return self._client
