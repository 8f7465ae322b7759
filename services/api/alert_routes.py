"""Alert routes: a shipment's alerts with their deliveries, and acknowledgements.

- ``GET  /api/v1/shipments/{id}/alerts``: every alert of the shipment, newest first, each
  with its deliveries (``schemas.alert.AlertView``): a delivery deferred past the
  recipient's quiet hours says so (``deferred``) and until when (``not_before``).
- ``POST /api/v1/alerts/{id}/ack``: ops, or an exporter that is a party of the shipment.
- ``GET  /alerts/{id}/ack?token=...``: the link in alert emails (no bearer token; the
  token is checked against the hash the alert service stored with the alert).
- ``POST /api/v1/sms/inbound``: an SMS reply ``ACK CODE`` relayed by the SMS gateway (ops).

Exporters see only shipments of their party; another party's shipment or alert is 404.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import HTMLResponse
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from schemas.alert import AlertView
from services.alerts.outbox import (
    acknowledge_alert,
    acknowledge_by_link,
    acknowledge_by_reply,
    alert_shipment,
    shipment_alerts,
)
from services.api.auth import Caller, Operator
from services.api.tokens import Principal


class AckResult(BaseModel):
    alert_id: str
    acknowledged: bool  # true once acknowledged, by this call or an earlier one
    by_this_call: bool


class InboundSms(BaseModel):
    from_: str = Field(alias="from", pattern=r"^\+[1-9]\d{6,14}$")
    body: str = Field(max_length=1600)


def router(pool: AsyncConnectionPool) -> APIRouter:
    routes = APIRouter()

    async def visible_shipment(conn: AsyncConnection[Any], shipment_id: str, who: Principal) -> None:
        cursor = await conn.execute("SELECT seller_name, buyer_name FROM shipments WHERE id = %s", (shipment_id,))
        row = await cursor.fetchone()
        # Another party's shipment is "not found", not "forbidden": its existence is private too.
        if row is None or not who.may_see(row[0], row[1]):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no shipment {shipment_id!r}")

    @routes.get("/api/v1/shipments/{shipment_id}/alerts", tags=["alerts"])
    async def list_alerts(shipment_id: str, who: Caller) -> list[AlertView]:
        async with pool.connection() as conn:
            await visible_shipment(conn, shipment_id, who)
            return [_alert_view(row) for row in await shipment_alerts(conn, shipment_id)]

    @routes.post("/api/v1/alerts/{alert_id}/ack", tags=["alerts"])
    async def acknowledge(alert_id: str, who: Caller) -> AckResult:
        if who.role == "auditor":
            raise HTTPException(status.HTTP_403_FORBIDDEN, "auditors are read-only")
        async with pool.connection() as conn:
            shipment_id = await alert_shipment(conn, alert_id)
            if shipment_id is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id!r}")
            await visible_shipment(conn, shipment_id, who)
            by = f"{who.role}:{who.party or who.token_id}"
            done = await acknowledge_alert(conn, alert_id, by, datetime.now(UTC))
        return AckResult(alert_id=alert_id, acknowledged=True, by_this_call=done)

    @routes.get("/alerts/{alert_id}/ack", response_class=HTMLResponse, include_in_schema=False)
    async def acknowledge_from_email(alert_id: str, token: str) -> HTMLResponse:
        async with pool.connection() as conn:
            done = await acknowledge_by_link(conn, alert_id, token, datetime.now(UTC))
        if done is None:
            return HTMLResponse(_page("Link not valid", "This acknowledgement link is not valid."), status_code=404)
        text = "Thank you: the alert is acknowledged." if done else "This alert was already acknowledged."
        return HTMLResponse(_page("Alert acknowledged", text))

    @routes.post("/api/v1/sms/inbound", tags=["alerts"])
    async def sms_reply(body: InboundSms, who: Operator) -> dict[str, str | None]:
        words = body.body.strip().split()
        if len(words) != 2 or words[0].upper() != "ACK":
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, 'expected a reply of the form "ACK CODE"')
        async with pool.connection() as conn:
            found = await acknowledge_by_reply(conn, words[1], body.from_, datetime.now(UTC))
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no open alert with that code for that number")
        return {"alert_id": found}

    return routes


def _alert_view(row: dict[str, Any]) -> AlertView:
    return AlertView.model_validate(
        {
            **row["body"],
            "raised_at": row["raised_at"],
            "acknowledged": row["acknowledged_at"] is not None,
            "acknowledged_at": row["acknowledged_at"],
            "acknowledged_by": row["acknowledged_by"],
            "escalated_at": row["escalated_at"],
            "deliveries": row["deliveries"],
        }
    )


def _page(title: str, text: str) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body style='font-family:sans-serif'><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        "<p>coldchain alerts</p></body></html>"
    )
