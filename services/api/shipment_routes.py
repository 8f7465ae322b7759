"""Shipments: register, correct, cancel, list, and each one's status, excursions and readings.

- ``POST  /api/v1/shipments``: registers one (201 with ``Location``; 409 if the id exists; 422).
- ``PATCH /api/v1/shipments/{id}``, ``POST /api/v1/shipments/{id}/cancel``: ops, audited.
- ``GET   /api/v1/shipments?party=&product=&device=``: newest packed first, paged by cursor.
- ``GET   /api/v1/shipments/{id}``: last reading, open excursions, latest ETA and viability.
- ``GET   /api/v1/shipments/{id}/excursions``: every excursion (not the retracted).
- ``GET   /api/v1/shipments/{id}/readings?from=&to=&format=json|csv``: streamed; every reading,
  or pages of ``limit`` with a cursor.

Every registration and correction is copied onto the compacted Kafka topic for the processors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from schemas.http import ShipmentStatus, StoredExcursion
from schemas.shipment import Shipment, ShipmentCancel, ShipmentIn, ShipmentPatch
from services.api.auth import Caller, Operator, VisibleShipment, not_found
from services.api.deps import Pool, Publisher, Registry, Streams
from services.api.pagination import CursorParam, decode_cursor, encode_cursor, link_next, next_link
from services.api.problems import PROBLEM_RESPONSES, problem_responses
from services.api.tokens import Principal
from services.registry.access import scope_of
from services.registry.postgres import ShipmentExists
from services.reports.readings_export import Page, as_csv, as_json, next_key

router = APIRouter(tags=["shipments"], responses=PROBLEM_RESPONSES)


@router.post("/api/v1/shipments", status_code=status.HTTP_201_CREATED, response_model=Shipment,
             responses=problem_responses(409))
async def register_shipment(body: ShipmentIn, who: Operator, registry: Registry, publisher: Publisher,
                            response: Response) -> Shipment:
    try:
        shipment = await registry.register(body, actor=_actor(who))
    except ShipmentExists as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, f"shipment {body.id!r} already exists") from exc
    await publisher.publish([shipment])
    response.headers["Location"] = f"/api/v1/shipments/{shipment.id}"
    return shipment


@router.patch("/api/v1/shipments/{shipment_id}", response_model=Shipment)
async def correct_shipment(shipment_id: str, body: ShipmentPatch, who: Operator, registry: Registry,
                           publisher: Publisher) -> Shipment:
    """Corrects contacts, deliver_by, bookings or devices; alerts already sent stay as sent."""
    return await _correct(shipment_id, body, who, registry, publisher)


@router.post("/api/v1/shipments/{shipment_id}/cancel", response_model=Shipment)
async def cancel_shipment(shipment_id: str, body: ShipmentCancel, who: Operator, registry: Registry,
                          publisher: Publisher) -> Shipment:
    """Ends a shipment: no alert is raised about it afterwards; its history stays."""
    return await _correct(shipment_id, body, who, registry, publisher)


async def _correct(shipment_id: str, change: ShipmentPatch | ShipmentCancel, who: Principal, registry: Registry,
                   publisher: Publisher) -> Shipment:
    try:
        shipment = await registry.correct(shipment_id, change, actor=_actor(who))
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc
    if shipment is None:
        raise not_found(shipment_id)
    await publisher.publish([shipment])
    return shipment


@router.get("/api/v1/shipments", response_model=list[Shipment])
async def list_shipments(
    who: Caller,
    registry: Registry,
    request: Request,
    response: Response,
    party: Annotated[str | None, Query(max_length=200)] = None,
    product: Annotated[str | None, Query(max_length=64)] = None,
    device: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: CursorParam = None,
    offset: Annotated[int, Query(ge=0, deprecated=True, description="use the cursor of Link: rel=next")] = 0,
) -> list[Shipment]:
    scope = scope_of(who)
    if scope is not None:
        if party is not None and party != scope:
            return []
        party = scope
    elif not party:  # an empty ?party= filters nothing, as it always has
        party = None
    after = _shipment_key(cursor) if cursor else None
    found = await registry.search(party, product, device, limit, after, 0 if after else offset)
    if len(found) == limit:
        link_next(request, response, encode_cursor(found[-1].packed_at, found[-1].id))
    return found


def _shipment_key(cursor: str) -> tuple[datetime, str]:
    packed_at, shipment_id = decode_cursor(cursor, datetime, str)
    assert isinstance(packed_at, datetime) and isinstance(shipment_id, str)
    return packed_at, shipment_id


@router.get("/api/v1/shipments/{shipment_id}", response_model=ShipmentStatus)
async def shipment_status(shipment: VisibleShipment, registry: Registry) -> ShipmentStatus:
    return ShipmentStatus.model_validate({
        "shipment": shipment,
        "last_reading": await registry.last_reading(shipment.id),
        "open_excursions": await registry.excursions(shipment.id, open_only=True),
        "eta": await registry.latest_eta(shipment.id),
    })


@router.get("/api/v1/shipments/{shipment_id}/excursions", response_model=list[StoredExcursion])
async def shipment_excursions(shipment: VisibleShipment, registry: Registry) -> list[StoredExcursion]:
    return [StoredExcursion.model_validate(row) for row in await registry.excursions(shipment.id)]


@router.get("/api/v1/shipments/{shipment_id}/readings", response_class=StreamingResponse,
            responses={200: {"content": {"application/json": {}, "text/csv": {}},
                             "description": "the readings, oldest first (time, device_id)"}})
async def shipment_readings(
    shipment: VisibleShipment,
    who: Caller,
    pool: Pool,
    slots: Streams,
    request: Request,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    device: Annotated[str | None, Query(max_length=64)] = None,
    format: Literal["json", "csv"] = "json",
    limit: Annotated[int | None, Query(ge=1, le=100_000, description="a page of this many; unset: all")] = None,
    cursor: CursorParam = None,
) -> StreamingResponse:
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, [{"loc": ["query", name], "type": "value_error",
                                       "msg": f"{name!r} needs a UTC offset, e.g. 2026-11-09T18:00:00Z"}])
    after = None
    if cursor:
        time, device_id = decode_cursor(cursor, datetime, str)
        assert isinstance(time, datetime) and isinstance(device_id, str)
        after = (time, device_id)
    page = Page(after=after, limit=limit)
    headers: dict[str, str] = {}
    last = await next_key(pool, shipment.id, start, end, device, page)
    if last is not None:
        headers["Link"] = next_link(request, encode_cursor(*last))
    if format == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{shipment.id}.csv"'
        return StreamingResponse(slots.stream(who.token_id, as_csv(pool, shipment.id, start, end, device, page)),
                                 media_type="text/csv", headers=headers)
    return StreamingResponse(slots.stream(who.token_id, as_json(pool, shipment.id, start, end, device, page)),
                             media_type="application/json", headers=headers)


def _actor(who: Principal) -> str:
    return f"{who.role}:{who.token_id}"
