"""Alert routes: a shipment's alerts with their deliveries, and acknowledgements.

- ``GET  /api/v1/shipments/{id}/alerts``: the shipment's alerts, newest first, each with its
  deliveries (``schemas.alert.AlertView``): a delivery deferred past the recipient's quiet
  hours says so (``deferred``) and until when (``not_before``). Paged by cursor.
- ``POST /api/v1/alerts/{id}/ack``: ops, or an exporter that is a party of the shipment.
- ``GET  /alerts/{id}/ack?token=...``: the link in alert emails (no bearer token; the
  token is checked against the hash the alert service stored with the alert).

SMS replies (``POST /api/v1/sms/inbound``) are in ``sms_routes``. Exporters see only
shipments of their party; another party's shipment or alert is 404.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse

from schemas.alert import AlertView
from schemas.http import AckResult
from services.alerts.outbox import AlertKey, acknowledge_alert, acknowledge_by_link, alert_shipment, shipment_alerts
from services.api.auth import Caller, VisibleShipment, visible_shipment
from services.api.deps import Pool, Registry
from services.api.pagination import CursorParam, decode_cursor, encode_cursor, link_next
from services.api.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["alerts"], responses=PROBLEM_RESPONSES)


@router.get("/api/v1/shipments/{shipment_id}/alerts", response_model=list[AlertView])
async def list_alerts(
    shipment: VisibleShipment, pool: Pool, request: Request, response: Response,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000, cursor: CursorParam = None,
) -> list[AlertView]:
    after: AlertKey | None = None
    if cursor:
        event_time, raised_at, alert_id = decode_cursor(cursor, datetime, datetime, str)
        assert isinstance(event_time, datetime) and isinstance(raised_at, datetime) and isinstance(alert_id, str)
        after = (event_time, raised_at, alert_id)
    async with pool.connection() as conn:
        found = [_alert_view(row) for row in await shipment_alerts(conn, shipment.id, limit, after)]
    if len(found) == limit:
        last = found[-1]
        link_next(request, response, encode_cursor(last.event_time, last.raised_at, last.id))
    return found


@router.post("/api/v1/alerts/{alert_id}/ack", response_model=AckResult)
async def acknowledge(alert_id: str, who: Caller, pool: Pool, registry: Registry) -> AckResult:
    if who.role == "auditor":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "auditors are read-only")
    async with pool.connection() as conn:
        shipment_id = await alert_shipment(conn, alert_id)
    if shipment_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id!r}")
    await visible_shipment(shipment_id, who, registry)  # another party's alert is not found either
    async with pool.connection() as conn:
        done = await acknowledge_alert(conn, alert_id, f"{who.role}:{who.party or who.token_id}", datetime.now(UTC))
    return AckResult(alert_id=alert_id, acknowledged=True, by_this_call=done)


@router.get("/alerts/{alert_id}/ack", response_class=HTMLResponse, include_in_schema=False)
async def confirm_from_old_email(alert_id: str, token: Annotated[str, Query(max_length=64)]) -> HTMLResponse:
    """Links in emails sent before share pages: opening one changes nothing (mail scanners
    open every link); its button posts the same token."""
    form = (f"<form method='post'><input type='hidden' name='token' value='{html.escape(token)}'>"
            "<button type='submit'>Acknowledge</button></form>")
    return HTMLResponse(_page("Acknowledge an alert", f"Alert {alert_id}: press the button to acknowledge it.",
                              form))


@router.post("/alerts/{alert_id}/ack", response_class=HTMLResponse, include_in_schema=False)
async def acknowledge_from_old_email(alert_id: str, token: Annotated[str, Form(max_length=64)],
                                     pool: Pool) -> HTMLResponse:
    async with pool.connection() as conn:
        done = await acknowledge_by_link(conn, alert_id, token, datetime.now(UTC))
    if done is None:
        return HTMLResponse(_page("Link not valid", "This acknowledgement link is not valid."), status_code=404)
    text = "Thank you: the alert is acknowledged." if done else "This alert was already acknowledged."
    return HTMLResponse(_page("Alert acknowledged", text))


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
