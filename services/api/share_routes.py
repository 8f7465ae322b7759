"""Share links: one shipment's page for one recipient, no login (issue 20).

- ``GET  /s/{token}``: the shipment's page (``share_page``); read-only, opening it changes nothing.
- ``GET  /s/{token}/ack``: what the link's alert is, and a button; nothing is acknowledged.
- ``POST /s/{token}/ack``: the button: acknowledges that alert, recorded as that recipient
  through that channel (the audit log keeps it).
- ``POST /api/v1/shipments/{id}/links``: ops (or the party itself) make a link for a party,
  so a buyer can be given one without an alert; ``GET`` lists them, without their tokens.
- ``DELETE /api/v1/links/{id}``: revoke one.

A link is a random or secret-derived token; only its SHA-256 is stored, with its shipment,
party, expiry and revocation. An unknown, expired or revoked token is a 404 page.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Path, Response, status
from fastapi.responses import HTMLResponse
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from schemas.http import LinkIn, LinkOut
from schemas.shipment import Shipment
from services.alerts.ids import ack_token_hash, share_link_id
from services.alerts.outbox import acknowledge_alert, shipment_alerts
from services.api.auth import Caller
from services.api.deps import Pool, Profiles, Settings
from services.api.fleet_routes import fleet_summaries, shipment_limits
from services.api.problems import PROBLEM_RESPONSES
from services.api.share_page import Point, ShareView, ack_form, page, render_share_page
from services.api.tokens import Principal
from services.i18n.language import Language, language_for
from services.registry.access import LinkHolder, acts_for, may_see
from services.registry.limits import ProfileCatalog
from services.registry.postgres import shipment_by_id

TOKEN = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
CHART_POINTS = 300


@dataclass(frozen=True)
class OpenLink:
    id: str
    shipment_id: str
    party: str
    recipient: str | None
    channel: str | None
    alert_id: str | None


INSERT_LINK = ("INSERT INTO share_links (id, token_hash, shipment_id, party, created_at, created_by, expires_at)"
               " VALUES (%s, %s, %s, %s, %s, %s, %s)")
REVOKE_LINK = "UPDATE share_links SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL"


def new_link(shipment_id: str, party: str, now: datetime, until: datetime, actor: str) -> tuple[str, str, tuple]:
    """A fresh random link: (its id, its token, the INSERT_LINK parameters). Only the token's
    hash is stored; the token is shown once."""
    token = secrets.token_urlsafe(24)
    token_hash = ack_token_hash(token)
    link_id = share_link_id(token_hash)
    return link_id, token, (link_id, token_hash, shipment_id, party, now, actor, until)


def link_expiry(deliver_by: datetime, now: datetime, days: int | None) -> datetime:
    """``days`` from now, or by default the shipment's deliver_by plus 7 days (a day at least)."""
    if days:
        return now + timedelta(days=days)
    return max(deliver_by + timedelta(days=7), now + timedelta(days=1))


async def open_link(conn: AsyncConnection[Any], token: str, now: datetime) -> OpenLink | None:
    cursor = await conn.execute(
        "SELECT id, shipment_id, party, recipient, channel, alert_id FROM share_links"
        " WHERE token_hash = %s AND revoked_at IS NULL AND expires_at > %s",
        (ack_token_hash(token), now))
    row = await cursor.fetchone()
    return OpenLink(*row) if row else None


def _not_found() -> HTMLResponse:
    return HTMLResponse(page("Link not valid", "<section><h1>This link is not valid</h1><p>It may have expired "
                                               "or been revoked. Ask the sender for a new one.</p></section>"),
                        status_code=404)


router = APIRouter()



async def load_view(pool: AsyncConnectionPool, profiles: ProfileCatalog, link: OpenLink,
                    acknowledged: bool | None = None) -> ShareView:
    (summary,) = await fleet_summaries(pool, None, link.shipment_id, 1)
    shipment = Shipment.model_validate(summary["shipment"])
    if not may_see(LinkHolder(link.shipment_id), shipment):  # what the link opens is its own shipment
        raise LookupError(link.shipment_id)
    async with pool.connection() as conn:
        points = await _chart_points(conn, link.shipment_id)
        excursions = await _excursions(conn, link.shipment_id)
        alerts = [_alert_row(a) for a in await shipment_alerts(conn, link.shipment_id)]
    ack_alert = next((a for a in alerts if a["id"] == link.alert_id), None)
    return ShareView(
        shipment=summary["shipment"], summary=summary, limits=shipment_limits(shipment, profiles),
        points=points, excursions=excursions, alerts=alerts, zone=_zone_of(shipment, link.party),
        party=link.party, ack_alert=ack_alert,
        acknowledged=bool(ack_alert and ack_alert["acknowledged"]) if acknowledged is None else acknowledged,
        lang=_language_of(shipment, link.party))

async def opened(pool: AsyncConnectionPool, token: str) -> OpenLink | None:
    async with pool.connection() as conn:
        return await open_link(conn, token, datetime.now(UTC))

@router.get("/s/{token}", response_class=HTMLResponse, include_in_schema=False)
async def shared_page(token: TOKEN, pool: Pool, profiles: Profiles) -> HTMLResponse:
    link = await opened(pool, token)
    if link is None:
        return _not_found()
    view = await load_view(pool, profiles, link)
    # The page's own form posts to ./{token}/ack; "ack" relative to /s/{token} would drop the token.
    html = render_share_page(view).replace("action='ack'", f"action='/s/{token}/ack'")
    return HTMLResponse(html, headers=_private())

@router.get("/s/{token}/ack", response_class=HTMLResponse, include_in_schema=False)
async def ack_page(token: TOKEN, pool: Pool, profiles: Profiles) -> HTMLResponse:
    link = await opened(pool, token)
    if link is None:
        return _not_found()
    view = await load_view(pool, profiles, link)
    lang = view.lang
    open_page = html.escape(lang.gettext("Open the shipment page"))
    back = f"<p><a href='/s/{token}'>{open_page}</a></p>"
    if view.ack_alert is None:
        nothing = html.escape(lang.gettext("Nothing to acknowledge"))
        return HTMLResponse(page(nothing, f"<section><h1>{nothing}</h1>{back}</section>", lang))
    title = html.escape(lang.gettext("Shipment %(id)s", id=view.shipment["id"]))
    body = (f"<section><h1>{title}</h1></section>"
            + ack_form(view.ack_alert, view.acknowledged, view.zone, action=f"/s/{token}/ack", lang=lang) + back)
    return HTMLResponse(page(lang.gettext("Acknowledge this alert"), body, lang), headers=_private())

@router.post("/s/{token}/ack", response_class=HTMLResponse, include_in_schema=False)
async def acknowledge(token: TOKEN, pool: Pool, profiles: Profiles) -> HTMLResponse:
    now = datetime.now(UTC)
    async with pool.connection() as conn:
        link = await open_link(conn, token, now)
        if link is None or link.alert_id is None:
            return _not_found()
        by = f"{link.party} {link.recipient or ''} via {link.channel or 'link'} link".replace("  ", " ")
        async with conn.transaction():
            done = await acknowledge_alert(conn, link.alert_id, by, now)
            await conn.execute(
                "UPDATE alert_deliveries SET acknowledged_at = %s, acknowledged_by = %s"
                " WHERE alert_id = %s AND address = %s AND acknowledged_at IS NULL",
                (now, by, link.alert_id, link.recipient))
    view = await load_view(pool, profiles, link, acknowledged=True)
    lang = view.lang
    note = lang.gettext("Thank you: the alert is acknowledged.") if done else lang.gettext(
        "This alert was already acknowledged.")
    body = f"<section><h1 data-acknowledged='true'>{html.escape(note)}</h1></section>"
    if view.ack_alert is not None:
        body += ack_form(view.ack_alert, True, view.zone, action="", lang=lang)
    open_page = html.escape(lang.gettext("Open the shipment page"))
    body += f"<p><a href='/s/{token}'>{open_page}</a></p>"
    return HTMLResponse(page(note, body, lang), headers=_private())

@router.post("/api/v1/shipments/{shipment_id}/links", status_code=status.HTTP_201_CREATED, tags=["links"],
             response_model=LinkOut, responses=PROBLEM_RESPONSES)
async def create_link(shipment_id: str, body: LinkIn, who: Caller, pool: Pool, settings: Settings,
                      response: Response) -> LinkOut:
    async with pool.connection() as conn:
        shipment = await _shipment_for(conn, shipment_id, who)
        if not acts_for(who, shipment, body.party):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "an exporter makes links for its own party only")
        now = datetime.now(UTC)
        until = link_expiry(shipment.deliver_by, now, body.days)
        actor = f"{who.role}:{who.party or who.token_id}"
        link_id, token, row = new_link(shipment_id, body.party, now, until, actor)
        async with conn.transaction():
            await conn.execute("SELECT set_config('coldchain.actor', %s, true)", (actor,))
            await conn.execute(INSERT_LINK, row)
    response.headers["Location"] = f"/api/v1/links/{link_id}"
    return LinkOut(id=link_id, shipment_id=shipment_id, party=body.party,
                   url=f"{settings.base_url}/s/{token}", expires_at=until, created_by=actor)

@router.get("/api/v1/shipments/{shipment_id}/links", tags=["links"], response_model=list[LinkOut],
            responses=PROBLEM_RESPONSES)
async def list_links(shipment_id: str, who: Caller, pool: Pool) -> list[LinkOut]:
    async with pool.connection() as conn:
        await _shipment_for(conn, shipment_id, who)
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute(
            "SELECT id, shipment_id, party, expires_at, revoked_at, created_by, channel FROM share_links"
            " WHERE shipment_id = %s ORDER BY created_at DESC LIMIT 500", (shipment_id,))
        return [LinkOut.model_validate(row) for row in await cursor.fetchall()]

@router.delete("/api/v1/links/{link_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["links"],
               responses=PROBLEM_RESPONSES)
async def revoke_link(link_id: Annotated[str, Path(max_length=64)], who: Caller, pool: Pool) -> Response:
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT shipment_id, party FROM share_links WHERE id = %s", (link_id,))
        row = await cursor.fetchone()
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no link {link_id!r}")
        shipment = await _shipment_for(conn, row[0], who)
        if not acts_for(who, shipment, row[1]):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "an exporter revokes links of its own party only")
        async with conn.transaction():
            await conn.execute("SELECT set_config('coldchain.actor', %s, true)",
                               (f"{who.role}:{who.party or who.token_id}",))
            await conn.execute(REVOKE_LINK, (link_id,))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _shipment_for(conn: AsyncConnection[Any], shipment_id: str, who: Principal) -> Shipment:
    if who.role == "auditor":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "auditors are read-only")
    shipment = await shipment_by_id(conn, shipment_id)
    if shipment is None or not may_see(who, shipment):  # another party's is "not found" too
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no shipment {shipment_id!r}")
    return shipment


def _private() -> dict[str, str]:
    # The page is for one recipient: no cache may keep it, no search engine list it.
    return {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}


def _language_of(shipment: Shipment, party: str) -> Language:
    chosen = getattr(shipment, party, None) if party in ("seller", "buyer") else None
    return language_for(getattr(chosen, "language", None) or "en")


def _zone_of(shipment: Shipment, party: str) -> ZoneInfo:
    zones = shipment.party_zones
    chosen = getattr(zones, party, None) if zones is not None and party in ("seller", "buyer") else None
    try:
        return ZoneInfo(chosen.timezone) if chosen is not None and chosen.timezone else ZoneInfo("UTC")
    except ZoneInfoNotFoundError:
        return ZoneInfo("UTC")


async def _chart_points(conn: AsyncConnection[Any], shipment_id: str) -> list[Point]:
    cursor = await conn.execute(
        "SELECT min(time), max(time) FROM readings WHERE shipment_id = %s AND temp_c IS NOT NULL", (shipment_id,))
    first, last = await cursor.fetchone() or (None, None)
    if first is None:
        return []
    bucket = max(timedelta(minutes=1), (last - first) / CHART_POINTS)
    cursor = await conn.execute(
        "SELECT time_bucket(%s, time) AS t, min(temp_c), max(temp_c) FROM readings"
        " WHERE shipment_id = %s AND temp_c IS NOT NULL GROUP BY t ORDER BY t", (bucket, shipment_id))
    return [Point(t, low, high) for t, low, high in await cursor.fetchall()]


async def _excursions(conn: AsyncConnection[Any], shipment_id: str) -> list[dict[str, Any]]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "SELECT kind, severity, started_at, ended_at, peak_c FROM excursions"
        " WHERE shipment_id = %s AND status <> 'retracted' ORDER BY started_at", (shipment_id,))
    return list(await cursor.fetchall())


def _alert_row(row: dict[str, Any]) -> dict[str, Any]:
    body = row["body"]
    return {"id": body["id"], "kind": body["kind"], "step": body["step"], "severity": body["severity"],
            "event_time": body["event_time"], "found_late": body.get("found_late", False),
            "raised_at": row["raised_at"], "acknowledged": row["acknowledged_at"] is not None}
