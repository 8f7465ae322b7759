"""The live feed over HTTP.

- ``POST /api/v1/feed/ticket``: a short-lived signed ticket for ``EventSource`` (which cannot
  send an ``Authorization`` header); see ``feed_ticket``.
- ``GET /api/v1/feed``: Server-Sent Events, authenticated by a bearer token or ``?ticket=``.
  ``?shipment=ID`` keeps one shipment, ``?types=reading,excursion,eta,alert`` some kinds.
  Resume with the ``Last-Event-ID`` header (sent by ``EventSource`` on its own), or with
  ``?last_event_id=`` when opening a new ``EventSource`` after a ticket expired.

Events: ``ready`` once connected (and after any replay), then ``reading``, ``excursion``,
``eta`` and ``alert`` (``data`` is the Kafka record's JSON as in ``schemas/``), and
``reset`` when a resume is not possible (too far behind): the client reloads its state.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, status
from fastapi.responses import StreamingResponse

from schemas.http import FeedTicket
from services.api.auth import Caller, Credentials, authenticate, visible_shipment
from services.api.deps import Feed, Feeds, Registry, Settings, State
from services.api.feed import FeedFilter, LiveFeed
from services.api.feed_position import EVENT_TYPES, BadPosition, FeedPosition, parse_position, sse_frame
from services.api.feed_ticket import BadTicket, issue_ticket, verify_ticket
from services.api.problems import PROBLEM_RESPONSES
from services.api.tokens import Principal
from services.registry.access import scope_of

router = APIRouter(tags=["feed"], responses=PROBLEM_RESPONSES)


async def feed_caller(
    state: State,
    credentials: Credentials,
    ticket: Annotated[str | None, Query(description="from POST /api/v1/feed/ticket")] = None,
) -> Principal:
    """A bearer token, or a ticket (``EventSource`` cannot send an ``Authorization`` header)."""
    if ticket is None:
        return await authenticate(state.pool, credentials)
    try:
        checked = verify_ticket(state.feed_ticket_secret, ticket, datetime.now(UTC))
    except BadTicket as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from exc
    async with state.pool.connection() as conn:
        cur = await conn.execute("SELECT id, role, party FROM api_tokens WHERE id = %s AND revoked_at IS NULL",
                                 (checked.token_id,))
        row = await cur.fetchone()
    if row is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "the ticket's token is revoked")
    return Principal(token_id=row[0], role=row[1], party=row[2])


@router.post("/api/v1/feed/ticket", response_model=FeedTicket)
async def feed_ticket(who: Caller, state: State) -> FeedTicket:
    ttl = timedelta(seconds=state.settings.feed_ticket_ttl_s)
    ticket, expires_at = issue_ticket(state.feed_ticket_secret, who.token_id, datetime.now(UTC), ttl)
    return FeedTicket(ticket=ticket, expires_at=expires_at, role=who.role, party=who.party)


@router.get("/api/v1/feed", response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def live_feed(
    who: Annotated[Principal, Depends(feed_caller)],
    feed: Feed,
    slots: Feeds,
    registry: Registry,
    settings: Settings,
    shipment: str | None = None,
    types: Annotated[str | None, Query(description="comma-separated: reading,excursion,eta,alert")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
    resume: Annotated[str | None, Query(alias="last_event_id")] = None,
) -> StreamingResponse:
    wanted = frozenset(t.strip() for t in types.split(",") if t.strip()) if types else EVENT_TYPES
    if not wanted or wanted - EVENT_TYPES:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [{
            "loc": ["query", "types"], "type": "value_error",
            "msg": f"types must be among {', '.join(sorted(EVENT_TYPES))}"}])
    if shipment is not None:
        await visible_shipment(shipment, who, registry)
    since = None
    if last_event_id or resume:
        try:
            since = parse_position(last_event_id or resume or "")
        except BadPosition as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [{
                "loc": ["header", "Last-Event-ID"], "type": "value_error", "msg": str(exc)}]) from exc
    feed_filter = FeedFilter(wanted, shipment, scope_of(who))
    return StreamingResponse(
        slots.stream(who.token_id, _events(feed, feed_filter, since, settings.feed_keepalive_s)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _events(feed: LiveFeed, feed_filter: FeedFilter, since: FeedPosition | None,
                  keepalive_s: float) -> AsyncIterator[str]:
    subscriber, live_from = await feed.subscribe(feed_filter)
    try:
        yield "retry: 2000\n\n"
        resumed = False
        if since is not None and live_from is not None:
            try:
                missed = await feed.replay(since, live_from, feed_filter)
            except BadPosition:
                missed = None
            if missed is None:
                yield sse_frame("reset", json.dumps({"reason": "too far behind to resume: reload"}),
                                live_from.encode())
            else:
                for replayed in missed:
                    yield replayed
                resumed = True
        ready = {"live": live_from is not None, "resumed": resumed}
        yield sse_frame("ready", json.dumps(ready), live_from.encode() if live_from is not None else None)
        while True:
            try:
                frame = await asyncio.wait_for(subscriber.queue.get(), keepalive_s)
            except TimeoutError:
                yield ": keep-alive\n\n"  # a comment: keeps proxies from cutting an idle stream
                continue
            if frame is None:  # fell too far behind, or the API is stopping
                return
            yield frame
    finally:
        feed.unsubscribe(subscriber)
