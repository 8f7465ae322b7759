"""SMS through the generic HTTP gateway: ``POST {"to": "+E164", "body": "text"}``."""

from __future__ import annotations

import httpx

from services.alerts.channels.base import RetryableDeliveryError
from services.alerts.channels.http_status import error_for_status
from services.alerts.messages import SmsMessage


class HttpSmsGateway:
    def __init__(self, url: str, timeout_s: float = 15.0) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self._timeout_s)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, message: SmsMessage) -> str | None:
        client = self._require_client()
        try:
            response = await client.post(
                self._url,
                json={"to": message.to, "body": message.body},
                # Gateways that honour it drop a resend after a crash; the contract's
                # body stays exactly {"to", "body"}.
                headers={"Idempotency-Key": message.delivery_id},
            )
        except httpx.HTTPError as exc:
            raise RetryableDeliveryError(f"SMS gateway: {exc!r}") from exc
        error = error_for_status("SMS gateway", response.status_code, response.text)
        if error is not None:
            raise error
        return _reference(response)

    async def already_accepted(self, message: SmsMessage) -> bool:
        return False  # the gateway cannot be asked; the Idempotency-Key is the guard

    def _require_client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("HttpSmsGateway.start() was not called")
        return self._client


def _reference(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("id"), str | int):
        return str(body["id"])
    return None
