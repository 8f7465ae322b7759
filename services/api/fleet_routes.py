"""The fleet at a glance, for the dashboard.

- ``GET /api/v1/fleet``: every visible shipment with its state (``lost``, ``excursion``,
  ``at_risk``, ``silent``, ``ok``; see ``fleet_status``), what it went through (``viability``:
  ``ok``, ``compromised``, ``lost``; ``critical_excursions``; ``state_text``), last reading,
  open excursions and forecast. ``?viability=lost`` (or ``compromised``, ``ok``) keeps those.
- ``GET /api/v1/fleet/{id}``: the same for one shipment, plus the temperature limits it is
  judged by and the route's legs (for the chart and the route schematic).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from schemas.eta import ViabilityState
from schemas.http import FleetShipment, FleetSummary
from schemas.shipment import Shipment
from services.api.auth import Caller, not_found
from services.api.deps import Pool, Profiles
from services.api.fleet_status import History, OpenExcursion, fleet_state, state_text, viability_of, worst_severity
from services.api.pagination import CursorParam, decode_cursor, encode_cursor, link_next
from services.api.problems import PROBLEM_RESPONSES
from services.registry.access import scope_of
from services.registry.limits import ProfileCatalog, limits_of

_SUMMARY = """
SELECT s.body,
       r.time AS last_reading_at, r.temp_c AS last_temp_c,
       coalesce(x.open, '[]'::jsonb) AS open_excursions,
       e.eta, e.phase, e.leg_name, e.at_risk, e.risk_reasons, e.viability_remaining_at_eta_h,
       e.viability_used_h, e.remaining_km, e.legs, e.time AS eta_event_time,
       e.viability_state, l.viability_lost_at, l.viability_lost_reason,
       coalesce(c.critical, 0) AS critical_excursions
FROM shipments s
LEFT JOIN LATERAL (SELECT time, temp_c FROM readings WHERE shipment_id = s.id
                   ORDER BY time DESC LIMIT 1) r ON true
LEFT JOIN LATERAL (SELECT jsonb_agg(jsonb_build_object('id', id, 'kind', kind, 'severity', severity,
                                    'device_id', device_id, 'started_at', started_at, 'peak_c', peak_c)
                                    ORDER BY started_at) AS open
                   FROM excursions WHERE shipment_id = s.id AND status = 'open') x ON true
LEFT JOIN LATERAL (SELECT * FROM eta WHERE shipment_id = s.id ORDER BY time DESC, id DESC LIMIT 1) e ON true
LEFT JOIN LATERAL (SELECT viability_lost_at, viability_lost_reason FROM eta  -- the latest: its lost_at
                   WHERE shipment_id = s.id AND viability_state = 'lost'      -- saw the most readings
                   ORDER BY time DESC, id DESC LIMIT 1) l ON true
LEFT JOIN LATERAL (SELECT count(*) AS critical FROM excursions
                   WHERE shipment_id = s.id AND severity = 'critical' AND status <> 'retracted') c ON true
-- the viewer's scope (services/registry/access.py within), in the database: paging needs it there
WHERE (%(party)s::text IS NULL OR s.seller_name = %(party)s OR s.buyer_name = %(party)s)
  AND (%(id)s::text IS NULL OR s.id = %(id)s)
  AND (%(q)s::text IS NULL OR s.id ILIKE %(q)s OR s.seller_name ILIKE %(q)s OR s.buyer_name ILIKE %(q)s)
  -- active: not cancelled, not delivered, and not long past its deliver_by
  AND (NOT %(active)s OR (s.body->>'cancelled_at' IS NULL AND e.phase IS DISTINCT FROM 'delivered'
                          AND s.deliver_by > now() - interval '3 days'))
  AND (%(after_packed)s::timestamptz IS NULL OR (s.packed_at, s.id) < (%(after_packed)s, %(after_id)s))
ORDER BY s.packed_at DESC, s.id DESC
LIMIT %(limit)s
"""


router = APIRouter(tags=["dashboard"], responses=PROBLEM_RESPONSES)


@router.get("/api/v1/fleet", response_model=list[FleetSummary])
async def fleet(
    who: Caller,
    pool: Pool,
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    viability: Annotated[ViabilityState | None, Query(description="ok, compromised or lost")] = None,
    q: Annotated[str | None, Query(max_length=100, description="part of an id, a seller or a buyer")] = None,
    active: Annotated[bool, Query(description="false: delivered and cancelled shipments too")] = True,
    cursor: CursorParam = None,
) -> list[dict[str, Any]]:
    page = FleetPage(q=q, active=active, after=_fleet_key(cursor) if cursor else None)
    party = scope_of(who)
    if viability is None:
        rows = await fleet_summaries(pool, party, None, limit, page)
    else:
        # Judged in Python (fleet_status), so filtered after the query, over every shipment.
        rows = filter_viability(await fleet_summaries(pool, party, None, None, page), viability)[:limit]
    if len(rows) == limit:  # there may be more: a link to the next page
        link_next(request, response, encode_cursor(rows[-1]["packed_at"], rows[-1]["id"]))
    return rows


@router.get("/api/v1/fleet/{shipment_id}", response_model=FleetShipment)
async def fleet_shipment(shipment_id: str, who: Caller, pool: Pool, profiles: Profiles) -> dict[str, Any]:
    found = await fleet_summaries(pool, scope_of(who), shipment_id, 1)
    if not found:  # another party's shipment is "not found" too
        raise not_found(shipment_id)
    summary = found[0]
    summary["limits"] = shipment_limits(Shipment.model_validate(summary["shipment"]), profiles)
    return summary


def _fleet_key(cursor: str) -> tuple[datetime, str]:
    packed_at, shipment_id = decode_cursor(cursor, datetime, str)
    assert isinstance(packed_at, datetime) and isinstance(shipment_id, str)
    return packed_at, shipment_id


@dataclass(frozen=True)
class FleetPage:
    q: str | None = None
    active: bool = False
    after: tuple[datetime, str] | None = None  # (packed_at, id) of the last row already seen


async def fleet_summaries(pool: AsyncConnectionPool, party: str | None, shipment_id: str | None,
                          limit: int | None, page: FleetPage | None = None) -> list[dict[str, Any]]:
    """Shipments as the board shows them, newest packed first; ``party`` (a viewer's
    ``scope_of``) keeps those where it is seller or buyer."""
    page = page or FleetPage()
    after_packed, after_id = page.after or (None, None)
    params = {"party": party, "id": shipment_id, "limit": limit, "active": page.active,
              "q": f"%{page.q}%" if page.q else None, "after_packed": after_packed, "after_id": after_id}
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_SUMMARY, params)
        return [summary_of(row) for row in await cur.fetchall()]


def shipment_limits(shipment: Shipment, profiles: ProfileCatalog) -> dict[str, Any]:
    """The limits the shipment is judged by, as JSON for the chart (pure)."""
    return limits_of(shipment, profiles).model_dump(mode="json")


def filter_viability(summaries: list[dict[str, Any]], wanted: ViabilityState) -> list[dict[str, Any]]:
    return [s for s in summaries if s["viability"] == wanted]


def summary_of(row: dict[str, Any]) -> dict[str, Any]:
    """One row of the summary query as the board shows it (pure)."""
    body = row["body"]
    opened = [OpenExcursion(e["kind"], e["severity"]) for e in row["open_excursions"]]
    forecast = None
    if row["eta"] is not None:
        forecast = {key: row[key] for key in ("eta", "phase", "leg_name", "at_risk", "risk_reasons",
                                              "viability_remaining_at_eta_h", "viability_used_h",
                                              "remaining_km", "legs", "viability_state")}
        forecast["event_time"] = row["eta_event_time"]
    history = History(critical_excursions=row["critical_excursions"],
                      forecast_viability=row["viability_state"] or "ok",
                      lost_reason=row["viability_lost_reason"])
    judged = viability_of(history)
    state = fleet_state(opened, bool(row["at_risk"]), row["last_reading_at"], lost=judged == "lost")
    return {
        "id": body["id"],
        "state": state,
        "state_text": state_text(state, history),
        "viability": judged,
        "viability_lost_at": row["viability_lost_at"],
        "viability_lost_reason": row["viability_lost_reason"],
        "critical_excursions": row["critical_excursions"],
        "worst_severity": worst_severity(opened),
        "product": body["product"],
        "seller": body["seller"]["name"],
        "buyer": body["buyer"]["name"],
        "deliver_by": body["deliver_by"],
        "packed_at": body.get("packed_at"),
        "cancelled_at": body.get("cancelled_at"),
        "last_reading_at": row["last_reading_at"],
        "last_temp_c": row["last_temp_c"],
        "open_excursions": row["open_excursions"],
        "forecast": forecast,
        "shipment": body,
    }

