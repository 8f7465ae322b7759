"""Request limits in-process: bodies bounded before parsing, no token no body, stream slots."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request

from services.api.limits import RequestLimits, StreamSlots

LIMIT = 10_000
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def app_reading_bodies() -> tuple[FastAPI, list[int]]:
    app = FastAPI()
    read: list[int] = []

    @app.post("/api/v1/things")
    async def things(request: Request) -> dict[str, int]:
        body = await request.body()
        read.append(len(body))
        return {"bytes": len(body)}

    app.add_middleware(RequestLimits, max_body_bytes=LIMIT)  # type: ignore[arg-type]
    return app, read


async def post(app: FastAPI, content: bytes | AsyncIterator[bytes], headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.post("/api/v1/things", content=content, headers=headers)


AUTH = {"Authorization": "Bearer some-token"}


async def test_a_body_within_the_limit_reaches_the_route() -> None:
    app, read = app_reading_bodies()
    response = await post(app, b"x" * LIMIT, AUTH)
    assert response.status_code == 200 and read == [LIMIT]


async def test_a_declared_oversized_body_is_413_before_the_route_reads_it() -> None:
    app, read = app_reading_bodies()
    response = await post(app, b"x" * (LIMIT + 1), AUTH)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413 and read == []


async def test_a_chunked_body_is_cut_off_once_past_the_limit() -> None:
    app, read = app_reading_bodies()
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(1000):  # 1 MB in all, no Content-Length
            sent += 1
            yield b"y" * 1000

    response = await post(app, chunks(), AUTH)
    assert response.status_code == 413 and read == []
    assert sent < 1000  # it stopped reading, not buffered the whole body


async def test_no_bearer_token_is_401_before_the_body_is_read() -> None:
    app, read = app_reading_bodies()
    response = await post(app, b"{}" * 4000, {})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert read == []


async def test_stream_slots_per_token_and_in_all() -> None:
    slots = StreamSlots(per_token=2, total=3)
    slots.acquire("a")
    slots.acquire("a")
    with pytest.raises(HTTPException) as per_token:
        slots.acquire("a")
    assert per_token.value.status_code == 429 and per_token.value.headers == {"Retry-After": "5"}
    slots.acquire("b")
    with pytest.raises(HTTPException, match="all in use"):
        slots.acquire("c")
    slots.release("a")
    slots.acquire("c")  # a slot freed is a slot to take


async def test_a_stream_holds_its_slot_until_it_ends_or_is_abandoned() -> None:
    slots = StreamSlots(per_token=1, total=5)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"row\n"

    stream = slots.stream("a", body())
    assert await anext(stream) == b"row\n"  # type: ignore[arg-type]
    with pytest.raises(HTTPException):
        slots.acquire("a")
    await stream.aclose()  # type: ignore[attr-defined]  # the client went away
    slots.acquire("a")
