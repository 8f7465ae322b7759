"""The FastAPI application: every route wired here, the clients opened in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from confluent_kafka import Producer
from fastapi import FastAPI, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from schemas.shipment import Shipment, ShipmentCancel, ShipmentIn, ShipmentPatch
from schemas.topics import SHIPMENTS
from services.api import alert_routes, dashboard_routes, feed_routes, fleet_routes, report_routes, share_routes
from services.api.auth import Caller, Operator
from services.api.exports import as_csv, as_json
from services.api.feed import LiveFeed, ShipmentParties
from services.api.limits import RequestLimits, StreamSlots
from services.api.registry import ShipmentExists, ShipmentRegistry
from services.api.settings import ApiSettings
from services.api.tokens import Principal
from services.profiles.catalog import load_profiles

log = logging.getLogger(__name__)


class ShipmentPublisher:
    """Copies registrations onto the compacted ``coldchain.shipments`` topic."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self._producer: Producer | None = None

    def start(self) -> None:
        self._producer = Producer(self.settings.kafka_client_config(**{"enable.idempotence": True, "acks": "all"}))

    async def publish(self, shipments: list[Shipment]) -> None:
        # flush() blocks until Kafka confirms: in a thread, so the event loop keeps serving.
        await asyncio.to_thread(self._publish, shipments)

    def _publish(self, shipments: list[Shipment]) -> None:
        assert self._producer is not None
        for shipment in shipments:
            self._producer.produce(SHIPMENTS.name, key=shipment.id.encode(),
                                   value=shipment.model_dump_json().encode())
        remaining = self._producer.flush(10)
        if remaining:
            log.error("%d shipment records not confirmed by Kafka", remaining)

    def stop(self) -> None:
        if self._producer is not None:
            self._producer.flush(5)


def create_app(settings: ApiSettings) -> FastAPI:
    pool = AsyncConnectionPool(settings.dsn, min_size=1, max_size=10, open=False)
    registry = ShipmentRegistry(pool)
    publisher = ShipmentPublisher(settings)
    feed = LiveFeed(settings.kafka_client_config(), ShipmentParties(pool), settings.feed_client_queue,
                    settings.feed_max_replay)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True)
        publisher.start()
        # The topic is compacted: republishing at start heals a record lost on a past crash.
        await publisher.publish(await registry.all())
        await feed.start()
        yield
        await feed.stop()
        publisher.stop()
        await pool.close()

    app = FastAPI(title="coldchain", version="0.1.0", lifespan=lifespan,
                  description="Cold-chain tracking for live-seafood exports.")
    # The SMS webhook is signed by its provider instead of carrying a bearer token.
    app.add_middleware(RequestLimits, max_body_bytes=settings.api_max_body_bytes,  # type: ignore[arg-type]
                       token_free_paths=frozenset({"/api/v1/sms/inbound"}))
    slots = StreamSlots(settings.api_streams_per_token, settings.api_streams_total)
    feed_slots = StreamSlots(settings.api_feeds_per_token, settings.api_feeds_total)
    app.state.pool = pool
    app.state.settings = settings

    async def visible(shipment_id: str, who: Principal) -> Shipment:
        shipment = await registry.get(shipment_id)
        # Another party's shipment is "not found", not "forbidden": its existence is private too.
        if shipment is None or not who.may_see(shipment.seller.name, shipment.buyer.name):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no shipment {shipment_id!r}")
        return shipment

    @app.post("/api/v1/shipments", status_code=status.HTTP_201_CREATED, response_model=Shipment)
    async def register_shipment(body: ShipmentIn, who: Operator) -> Shipment:
        try:
            shipment = await registry.register(body, actor=f"{who.role}:{who.token_id}")
        except ShipmentExists as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, f"shipment {body.id!r} already exists") from exc
        await publisher.publish([shipment])
        return shipment

    @app.patch("/api/v1/shipments/{shipment_id}", response_model=Shipment)
    async def correct_shipment(shipment_id: str, body: ShipmentPatch, who: Operator) -> Shipment:
        """Corrects contacts, deliver_by, bookings or devices; alerts already sent stay as sent."""
        return await _correct(shipment_id, body, who)

    @app.post("/api/v1/shipments/{shipment_id}/cancel", response_model=Shipment)
    async def cancel_shipment(shipment_id: str, body: ShipmentCancel, who: Operator) -> Shipment:
        """Ends a shipment: no alert is raised about it afterwards; its history stays."""
        return await _correct(shipment_id, body, who)

    async def _correct(shipment_id: str, change: ShipmentPatch | ShipmentCancel, who: Principal) -> Shipment:
        try:
            shipment = await registry.correct(shipment_id, change, actor=f"{who.role}:{who.token_id}")
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from exc
        if shipment is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no shipment {shipment_id!r}")
        await publisher.publish([shipment])
        return shipment

    @app.get("/api/v1/shipments", response_model=list[Shipment])
    async def list_shipments(
        who: Caller,
        party: Annotated[str | None, Query(max_length=200)] = None,
        product: Annotated[str | None, Query(max_length=64)] = None,
        device: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[Shipment]:
        if who.role == "exporter":
            if party is not None and party != who.party:
                return []
            party = who.party
        return await registry.search(party, product, device, limit, offset)

    @app.get("/api/v1/shipments/{shipment_id}")
    async def shipment_status(shipment_id: str, who: Caller) -> dict[str, Any]:
        shipment = await visible(shipment_id, who)
        return {
            "shipment": shipment.model_dump(mode="json"),
            "last_reading": await registry.last_reading(shipment_id),
            "open_excursions": await registry.excursions(shipment_id, open_only=True),
            "eta": await registry.latest_eta(shipment_id),
        }

    @app.get("/api/v1/shipments/{shipment_id}/excursions")
    async def shipment_excursions(shipment_id: str, who: Caller) -> list[dict[str, Any]]:
        await visible(shipment_id, who)
        return await registry.excursions(shipment_id)

    @app.get("/api/v1/shipments/{shipment_id}/readings")
    async def shipment_readings(
        shipment_id: str,
        who: Caller,
        start: Annotated[datetime | None, Query(alias="from")] = None,
        end: Annotated[datetime | None, Query(alias="to")] = None,
        device: Annotated[str | None, Query(max_length=64)] = None,
        format: Literal["json", "csv"] = "json",
    ) -> StreamingResponse:
        await visible(shipment_id, who)
        for name, value in (("from", start), ("to", end)):
            if value is not None and value.tzinfo is None:
                raise HTTPException(422, f"{name!r} needs a UTC offset, e.g. 2026-11-09T18:00:00Z")
        if format == "csv":
            return StreamingResponse(slots.stream(who.token_id, as_csv(pool, shipment_id, start, end, device)),
                                     media_type="text/csv",
                                     headers={"Content-Disposition": f'attachment; filename="{shipment_id}.csv"'})
        return StreamingResponse(slots.stream(who.token_id, as_json(pool, shipment_id, start, end, device)),
                                 media_type="application/json")

    @app.get("/api/v1/deadletters")
    async def dead_letters(
        request: Request, who: Caller, device: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        if who.role == "exporter":
            raise HTTPException(status.HTTP_403_FORBIDDEN, "dead letters are for ops and auditors")
        async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            where, params = ("WHERE device_id = %s", [device]) if device else ("", [])
            await cur.execute(f"SELECT count(*) AS n FROM dead_letters {where}", params)  # noqa: S608
            total = (await cur.fetchone() or {"n": 0})["n"]
            listing = ("SELECT id, received_at, stage, mqtt_topic, device_id, reason, errors, errors_omitted,"  # noqa: S608
                       " payload_size, payload_sha256 FROM dead_letters"
                       f" {where} ORDER BY received_at DESC LIMIT %s")
            await cur.execute(listing, [*params, limit])
            return {"total": total, "items": await cur.fetchall()}

    app.include_router(alert_routes.router(pool, alert_routes.InboundSmsConfig(
        twilio_auth_token=settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None,
        gateway_secret=settings.sms_inbound_secret.get_secret_value() if settings.sms_inbound_secret else None,
        public_url=settings.base_url)))
    app.include_router(report_routes.router(pool, load_profiles(settings.excursions_profile_files), slots,
                                            settings.base_url))
    app.include_router(feed_routes.router(pool, feed, settings, feed_slots))
    app.include_router(fleet_routes.router(pool))
    app.include_router(share_routes.router(pool, settings.base_url))
    dashboard_routes.mount(app)
    return app
