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
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field, ValidationError

from schemas.alert import AlertView
from services.alerts.outbox import (
    acknowledge_alert,
    acknowledge_by_link,
    acknowledge_by_reply,
    alert_shipment,
    shipment_alerts,
)
from services.api.auth import Caller, bearer, principal
from services.api.sms_inbound import gateway_valid, parse_reply, twilio_valid
from services.api.tokens import Principal


class AckResult(BaseModel):
    alert_id: str
    acknowledged: bool  # true once acknowledged, by this call or an earlier one
    by_this_call: bool


class InboundSms(BaseModel):
    from_: str = Field(alias="from", pattern=r"^\+[1-9]\d{6,14}$")
    body: str = Field(max_length=1600)


@dataclass(frozen=True)
class InboundSmsConfig:
    twilio_auth_token: str | None  # verifies X-Twilio-Signature
    gateway_secret: str | None  # verifies X-Coldchain-Signature
    public_url: str  # the base of the URL Twilio called (what it signed)


async def _verified_reply(request: Request, config: InboundSmsConfig) -> InboundSms:
    raw = await request.body()
    twilio = request.headers.get("x-twilio-signature")
    gateway = request.headers.get("x-coldchain-signature")
    try:
        if twilio is not None:
            form = {k: str(v) for k, v in (await request.form()).items()}
            url = config.public_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if not config.twilio_auth_token or not twilio_valid(config.twilio_auth_token, url, form, twilio):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "X-Twilio-Signature does not match")
            return InboundSms.model_validate({"from": form.get("From", ""), "body": form.get("Body", "")})
        if gateway is not None:
            stamp = request.headers.get("x-coldchain-timestamp", "")
            if not config.gateway_secret or not gateway_valid(config.gateway_secret, stamp, raw, gateway, time.time()):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "X-Coldchain-Signature does not match")
            return InboundSms.model_validate_json(raw)
        who = await principal(request, await bearer(request))
        if not who.can_write:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {who.role!r} is read-only here")
        return InboundSms.model_validate_json(raw)
    except ValidationError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, exc.errors(include_url=False)) from exc


def router(pool: AsyncConnectionPool, sms: InboundSmsConfig) -> APIRouter:
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
    async def confirm_from_old_email(alert_id: str, token: Annotated[str, Query(max_length=64)]) -> HTMLResponse:
        """Links in emails sent before share pages: opening one changes nothing (mail scanners
        open every link); its button posts the same token."""
        form = (f"<form method='post'><input type='hidden' name='token' value='{html.escape(token)}'>"
                "<button type='submit'>Acknowledge</button></form>")
        return HTMLResponse(_page("Acknowledge an alert", f"Alert {alert_id}: press the button to acknowledge it.",
                                  form))

    @routes.post("/alerts/{alert_id}/ack", response_class=HTMLResponse, include_in_schema=False)
    async def acknowledge_from_old_email(alert_id: str, token: Annotated[str, Form(max_length=64)]) -> HTMLResponse:
        async with pool.connection() as conn:
            done = await acknowledge_by_link(conn, alert_id, token, datetime.now(UTC))
        if done is None:
            return HTMLResponse(_page("Link not valid", "This acknowledgement link is not valid."), status_code=404)
        text = "Thank you: the alert is acknowledged." if done else "This alert was already acknowledged."
        return HTMLResponse(_page("Alert acknowledged", text))

    @routes.post("/api/v1/sms/inbound", tags=["alerts"])
    async def sms_reply(request: Request) -> dict[str, str | None]:
        """An SMS reply, from Twilio (signed form data), the generic gateway (signed JSON) or
        an ops token (JSON); see services/api/sms_inbound.py."""
        reply = await _verified_reply(request, sms)
        code = parse_reply(reply.body)
        if code is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, 'expected a reply of the form "ACK CODE"')
        async with pool.connection() as conn:
            found = await acknowledge_by_reply(conn, code, reply.from_, datetime.now(UTC))
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


def _page(title: str, text: str, extra: str = "") -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'></head>"
        f"<body style='font-family:sans-serif'><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        f"{extra}<p>coldchain alerts</p></body></html>"
    )
