"""The API's own ``/metrics``, ``/healthz`` and ``/readyz`` (outside the contract's ``/api/v1``),
and the middleware that counts its requests.

Requests are counted by method, route template (``/api/v1/shipments/{shipment_id}``, never
the path itself, so ids do not become series; ``unmatched`` for a path no route has) and
status. Latency is the time to the response's start (its status and headers): a live feed
or an export streams for minutes after, and that is not what keeps a caller waiting.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.deps import ApiState, State
from services.api.metrics import ApiMetrics
from services.metrics_server import readiness_report

UNMATCHED = "unmatched"


def route_template(scope: Scope, path: str, routes: Sequence[BaseRoute]) -> str:
    """The template of the route that served the request (``path``, as it arrived); a mount's
    (the dashboard) as ``/dashboard/{path}``; ``unmatched`` for no route, or a request
    answered before routing (a request limit's 401 or 413: its status tells which)."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", UNMATCHED))
    for mount in routes:
        if isinstance(mount, Mount) and (path == mount.path or path.startswith(mount.path + "/")):
            return mount.path + "/{path}"
    return UNMATCHED


class RequestMetrics:
    """ASGI middleware: the outermost, so requests refused by the limits are counted too."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path, method = str(scope["path"]), str(scope["method"])
        status = 500  # an exception before any response

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self.metrics.latency.labels(method, route_template(scope, path, self.routes)).observe(
                    time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            self.metrics.requests.labels(method, route_template(scope, path, self.routes), str(status)).inc()


def readiness(state: ApiState) -> dict[str, bool]:
    """The database pool open and the shipments producer started."""
    return {"database": not state.pool.closed, "kafka": state.publisher.started}


router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: State) -> JSONResponse:
    code, body = readiness_report(lambda: readiness(state))
    return JSONResponse(body, status_code=code)


@router.get("/metrics")
async def metrics(state: State) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
