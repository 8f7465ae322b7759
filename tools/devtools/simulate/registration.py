"""The HTTP edge: registers simulated shipments with ``POST {api}/api/v1/shipments``."""

from __future__ import annotations

from typing import Literal

import httpx

from schemas.shipment import ShipmentIn

Outcome = Literal["created", "exists"]


class RegistrationError(RuntimeError):
    pass


class ShipmentRegistrar:
    def __init__(self, api_url: str, token: str, timeout_s: float = 10.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        self._client: httpx.Client | None = None

    def start(self) -> None:
        self._client = httpx.Client(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=self.timeout_s,
        )

    def register(self, shipment: ShipmentIn) -> Outcome:
        """201 -> created; 409 -> it exists already (a re-run of the same seed); else raise."""
        if self._client is None:
            raise RegistrationError("call start() first")
        body = shipment.model_dump(mode="json", exclude_none=True)
        try:
            response = self._client.post("/api/v1/shipments", json=body)
        except httpx.HTTPError as exc:
            raise RegistrationError(f"{self.api_url}: {exc}") from exc
        if response.status_code == 201:
            return "created"
        if response.status_code == 409:
            return "exists"
        raise RegistrationError(
            f"registering {shipment.id}: HTTP {response.status_code} {response.text[:300]}"
        )

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
