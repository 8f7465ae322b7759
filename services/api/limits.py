"""Limits that keep one caller from starving the rest.

- ``RequestLimits``: a plain ASGI middleware, answering with the same problem details as the
  app's handlers (``problems``). A request body is bounded before anything
  parses it (413 from the Content-Length, or as soon as a chunked body passes the limit),
  and a body-carrying ``/api/v1`` request without a bearer token is a 401 before its body
  is read (FastAPI reads the body before it resolves the authentication dependency).
- ``StreamSlots``: exports, reports and the live feed hold a database connection or a
  Kafka reader for as long as the client reads; each token may hold only a few at once,
  and all of them together only part of the pool, so slow readers cannot stall every call.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import HTTPException, status

from services.api.problems import MEDIA_TYPE, problem_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLarge(Exception):
    pass


class RequestLimits:
    def __init__(self, app: App, max_body_bytes: int, token_free_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.token_free_paths = token_free_paths  # they authenticate otherwise (a signature)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        if (path.startswith("/api/v1/") and path not in self.token_free_paths
                and not headers.get("authorization", "").lower().startswith("bearer ")):
            await _problem(send, path, 401, "missing bearer token", {"www-authenticate": "Bearer"})
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await _problem(send, path, 413, f"request body over {self.max_body_bytes} bytes")
            return
        seen = 0

        async def bounded_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, bounded_receive, send)
        except BodyTooLarge:
            await _problem(send, path, 413, f"request body over {self.max_body_bytes} bytes")


async def _problem(send: Send, path: str, code: int, detail: str, extra: dict[str, str] | None = None) -> None:
    body = problem_body(code, detail, instance=path)
    headers = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class StreamSlots:
    """At most ``per_token`` long-running responses per token and ``total`` in all."""

    def __init__(self, per_token: int, total: int) -> None:
        self.per_token = per_token
        self.total = total
        self._held: Counter[str] = Counter()

    def acquire(self, token_id: str) -> None:
        if self._held[token_id] >= self.per_token:
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                                f"this token already has {self.per_token} exports, reports or feeds open",
                                headers={"Retry-After": "5"})
        if sum(self._held.values()) >= self.total:
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "the server's export slots are all in use",
                                headers={"Retry-After": "5"})
        self._held[token_id] += 1

    def release(self, token_id: str) -> None:
        self._held[token_id] -= 1
        if self._held[token_id] <= 0:
            del self._held[token_id]

    @asynccontextmanager
    async def held(self, token_id: str) -> AsyncIterator[None]:
        self.acquire(token_id)
        try:
            yield
        finally:
            self.release(token_id)

    async def stream(self, token_id: str, body: AsyncIterator[bytes | str]) -> AsyncIterator[bytes | str]:
        """``body`` with a slot held from now until it ends or the client goes away."""
        self.acquire(token_id)
        try:
            async for chunk in body:
                yield chunk
        finally:
            self.release(token_id)
