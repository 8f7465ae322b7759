"""The FastAPI application, assembled: the state every route depends on, one router per
resource, the problem-details error handlers and the request limits.

The routers (``*_routes.py``) hold the routes; ``deps`` hands them what they need;
``problems`` turns every error into RFC 9457 problem details.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from services.api import (
    alert_routes,
    audit_routes,
    dashboard_routes,
    deadletter_routes,
    feed_routes,
    fleet_routes,
    observability,
    problems,
    report_routes,
    share_routes,
    shipment_routes,
    sms_routes,
)
from services.api.deps import ApiState
from services.api.feed import LiveFeed, ShipmentParties
from services.api.limits import RequestLimits, StreamSlots
from services.api.metrics import ApiMetrics
from services.api.observability import RequestMetrics
from services.api.settings import ApiSettings
from services.registry.postgres import ShipmentRegistry
from services.registry.topic import ShipmentPublisher

ROUTERS = (shipment_routes, alert_routes, sms_routes, fleet_routes, feed_routes, report_routes, audit_routes,
           deadletter_routes, share_routes)


def build_state(settings: ApiSettings) -> ApiState:
    """Every client the routes use, built without I/O (the lifespan opens them)."""
    pool = AsyncConnectionPool(settings.dsn, min_size=1, max_size=10, open=False)
    feed = LiveFeed(settings, ShipmentParties(pool), settings.feed_client_queue, settings.feed_max_replay)
    metrics = ApiMetrics()
    metrics.observe_feed(lambda: feed.resting)
    return ApiState(
        settings=settings,
        pool=pool,
        registry=ShipmentRegistry(pool),
        publisher=ShipmentPublisher(settings),
        feed=feed,
        streams=StreamSlots(settings.api_streams_per_token, settings.api_streams_total),
        feeds=StreamSlots(settings.api_feeds_per_token, settings.api_feeds_total),
        profiles=settings.catalog(),
        feed_ticket_secret=(settings.feed_ticket_secret.get_secret_value().encode() if settings.feed_ticket_secret
                            else secrets.token_bytes(32)),
        metrics=metrics,
    )


def create_app(settings: ApiSettings) -> FastAPI:
    state = build_state(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await state.pool.open(wait=True)
        state.publisher.start()
        # The topic is compacted: republishing at start heals a record lost on a past crash.
        await state.publisher.publish(await state.registry.all())
        await state.feed.start()
        yield
        await state.feed.stop()
        state.publisher.stop()
        await state.pool.close()

    app = FastAPI(title="coldchain", version="0.1.0", lifespan=lifespan,
                  description="Cold-chain tracking for live-seafood exports.")
    app.state.api = state
    problems.install(app)
    # The SMS webhook is signed by its provider instead of carrying a bearer token.
    app.add_middleware(RequestLimits, max_body_bytes=settings.api_max_body_bytes,  # type: ignore[arg-type]
                       token_free_paths=frozenset({sms_routes.PATH}))
    # Outermost: counts what the limits refuse too.
    app.add_middleware(RequestMetrics, metrics=state.metrics, routes=app.router.routes)  # type: ignore[arg-type]
    for module in ROUTERS:
        app.include_router(module.router)
    app.include_router(observability.router)  # /healthz, /readyz, /metrics: outside the contract's /api/v1
    dashboard_routes.mount(app)
    return app
