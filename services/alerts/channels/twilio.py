"""SMS through Twilio's REST Messages API (form POST, HTTP basic auth)."""

from __future__ import annotations

import httpx

from services.alerts.channels.base import RetryableDeliveryError
from services.alerts.channels.http_status import error_for_status
from services.alerts.messages import SmsMessage

TWILIO_API = "https://api.twilio.com"


class TwilioSms:
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        base_url: str = TWILIO_API,
        timeout_s: float = 15.0,
    ) -> None:
        self._sid = account_sid
        self._token = auth_token
        self._sender = sender
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self._timeout_s, auth=httpx.BasicAuth(self._sid, self._token))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, message: SmsMessage) -> str | None:
        form = {"To": message.to, "From": self._sender, "Body": message.body}
        response = await self._request("POST", data=form)
        body = _json(response)
        sid = body.get("sid") if isinstance(body, dict) else None
        return str(sid) if sid else None

    async def already_accepted(self, message: SmsMessage) -> bool:
        """Twilio has no idempotency key for messages, but it can list what it took:
        the same body (which carries the alert's reply code) to the same number."""
        params = {"To": message.to, "From": self._sender, "PageSize": "50"}
        response = await self._request("GET", params=params)
        body = _json(response)
        listed = body.get("messages", []) if isinstance(body, dict) else []
        return any(
            isinstance(m, dict)
            and m.get("to") == message.to
            and m.get("body") == message.body
            and m.get("status") not in ("failed", "undelivered", "canceled")
            for m in listed
        )

    async def _request(
        self,
        method: str,
        data: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        if self._client is None:
            raise RuntimeError("TwilioSms.start() was not called")
        try:
            response = await self._client.request(method, self._url, data=data, params=params)
        except httpx.HTTPError as exc:
            raise RetryableDeliveryError(f"Twilio: {exc!r}") from exc
        error = error_for_status("Twilio", response.status_code, response.text)
        if error is not None:
            raise error
        return response


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None
