"""What routes are given, in one style: ``Annotated`` dependencies on the app's state.

``create_app`` builds one ``ApiState`` (the pool, the registry, the publisher, the live feed,
the stream slots, the product profiles, the settings) and keeps it on ``app.state``; a route names what it needs by
type (``pool: Pool``, ``registry: Registry``, ``who: Caller``) and FastAPI hands it over. A
test replaces any of them with ``app.dependency_overrides[deps.pool] = …``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool

from services.api.feed import LiveFeed
from services.api.limits import StreamSlots
from services.api.metrics import ApiMetrics
from services.api.settings import ApiSettings
from services.registry.limits import ProfileCatalog
from services.registry.postgres import ShipmentRegistry
from services.registry.topic import ShipmentPublisher


@dataclass(frozen=True)
class ApiState:
    settings: ApiSettings
    pool: AsyncConnectionPool
    registry: ShipmentRegistry
    publisher: ShipmentPublisher
    feed: LiveFeed
    streams: StreamSlots  # exports and reports
    feeds: StreamSlots  # live feeds
    profiles: ProfileCatalog
    feed_ticket_secret: bytes
    metrics: ApiMetrics


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


State = Annotated[ApiState, Depends(api_state)]


def settings(state: State) -> ApiSettings:
    return state.settings


def pool(state: State) -> AsyncConnectionPool:
    return state.pool


def registry(state: State) -> ShipmentRegistry:
    return state.registry


def publisher(state: State) -> ShipmentPublisher:
    return state.publisher


def live_feed(state: State) -> LiveFeed:
    return state.feed


def streams(state: State) -> StreamSlots:
    return state.streams


def feeds(state: State) -> StreamSlots:
    return state.feeds


def profiles(state: State) -> ProfileCatalog:
    return state.profiles


Settings = Annotated[ApiSettings, Depends(settings)]
Pool = Annotated[AsyncConnectionPool, Depends(pool)]
Registry = Annotated[ShipmentRegistry, Depends(registry)]
Publisher = Annotated[ShipmentPublisher, Depends(publisher)]
Feed = Annotated[LiveFeed, Depends(live_feed)]
Streams = Annotated[StreamSlots, Depends(streams)]
Feeds = Annotated[StreamSlots, Depends(feeds)]
Profiles = Annotated[ProfileCatalog, Depends(profiles)]
