"""Every error of the assembled app is RFC 9457 problem details, whoever raised it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from schemas.http import Problem
from services.api.app import create_app
from services.api.auth import ops_only
from services.api.pagination import decode_cursor, encode_cursor, link_next
from services.api.settings import ApiSettings
from services.api.tokens import Principal

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def app() -> FastAPI:
    app = create_app(ApiSettings(api_max_body_bytes=2048))
    app.dependency_overrides[ops_only] = lambda: Principal(token_id="t", role="ops", party=None)
    return app


def _call(app: FastAPI, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def _problem(response: httpx.Response, status: int) -> Problem:
    assert response.status_code == status and response.headers["content-type"] == PROBLEM, response.text
    found = Problem.model_validate(response.json())
    assert found.status == status and found.title and found.detail and found.type == "about:blank"
    return found


def test_an_unknown_path_is_a_404_problem(app: FastAPI) -> None:
    found = _problem(_call(app, "GET", "/api/v1/no-such-thing"), 404)
    assert found.instance == "/api/v1/no-such-thing" and found.title == "Not Found"


def test_the_middlewares_401_and_413_are_the_same_problems(app: FastAPI) -> None:
    refused = _problem(_call(app, "POST", "/api/v1/shipments", json={}), 401)
    assert refused.title == "Unauthorized" and refused.instance == "/api/v1/shipments"
    too_big = _call(app, "POST", "/api/v1/shipments", content=b"x" * 4096, headers={"Authorization": "Bearer x"})
    assert _problem(too_big, 413).title == "Content Too Large"


def test_a_bad_body_is_a_422_problem_listing_each_field(app: FastAPI) -> None:
    found = _problem(_call(app, "POST", "/api/v1/shipments", json={"id": "SHP-1"},
                                  headers={"Authorization": "Bearer x"}), 422)
    assert found.errors and {tuple(e["loc"]) for e in found.errors} >= {("body", "deliver_by"), ("body", "seller")}
    assert all("input" not in e for e in found.errors)  # never the caller's input echoed back


def test_no_route_answers_a_bare_object_in_the_openapi_document(app: FastAPI) -> None:
    document = app.openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for code, answer in operation["responses"].items():
                for media, content in answer.get("content", {}).items():
                    schema = content.get("schema", {})
                    assert schema.get("type") != "object" or "properties" in schema, (method, path, code, media)
                    if code.startswith(("4", "5")):
                        assert media == PROBLEM, (method, path, code)


def test_a_cursor_holds_its_key_and_a_foreign_one_is_a_422() -> None:
    at = datetime(2026, 11, 9, 18, tzinfo=UTC)
    assert decode_cursor(encode_cursor(at, "SHP-1"), datetime, str) == (at, "SHP-1")
    assert decode_cursor(encode_cursor(42), int) == (42,)
    for foreign in ("not-base64!", encode_cursor("SHP-1"), encode_cursor(at, 7)):
        with pytest.raises(Exception) as caught:
            decode_cursor(foreign, datetime, str)
        assert getattr(caught.value, "status_code", None) == 422


def test_the_next_link_keeps_the_query_and_drops_an_offset() -> None:
    scope = {"type": "http", "method": "GET", "path": "/api/v1/shipments", "query_string": b"party=A&offset=5",
             "headers": [(b"host", b"api")], "scheme": "http", "server": ("api", 80)}
    response = Response()
    link_next(Request(scope), response, "CUR")
    assert response.headers["link"] == '<http://api/api/v1/shipments?party=A&cursor=CUR>; rel="next"'
