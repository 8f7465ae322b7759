"""Every error the API answers, as RFC 9457 problem details (``application/problem+json``).

One set of exception handlers (``install``) turns ``HTTPException`` (raised by the routes, and by
Starlette for an unknown path or method), request validation errors and anything unexpected
into ``schemas.http.Problem`` bodies; the ASGI middleware of ``limits`` answers with the same
body (``problem_body``). A 422 lists the invalid fields in ``errors``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemas.http import Problem

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
INVALID = "the request has invalid fields: see errors"


def problem(status: int, detail: str | None = None, *, errors: Sequence[Mapping[str, Any]] | None = None,
            instance: str | None = None) -> Problem:
    title = _title(status)
    return Problem(title=title, status=status, detail=detail or title, instance=instance,
                   errors=[dict(e) for e in errors] if errors is not None else None)


def problem_body(status: int, detail: str | None = None, **fields: Any) -> bytes:
    """The JSON bytes of a problem (for ASGI code that answers without FastAPI)."""
    return json.dumps(problem(status, detail, **fields).model_dump(mode="json", exclude_none=True),
                      separators=(",", ":")).encode()


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE


def _respond(request: Request, found: Problem, headers: Mapping[str, str] | None = None) -> ProblemResponse:
    found = found.model_copy(update={"instance": request.url.path})
    return ProblemResponse(found.model_dump(mode="json", exclude_none=True), status_code=found.status,
                           headers=dict(headers) if headers else None)


def field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Each error's ``loc``, ``msg``, ``type`` and ``ctx`` (its values as text where they are
    not JSON); never ``input``, which can be large or private."""
    found = []
    for error in errors:
        if not isinstance(error, Mapping):
            found.append({"loc": [], "msg": str(error), "type": "value_error"})
            continue
        kept = {k: error[k] for k in ("loc", "msg", "type") if k in error}
        if isinstance(error.get("ctx"), Mapping):
            kept["ctx"] = {k: v if isinstance(v, str | int | float | bool) or v is None else str(v)
                           for k, v in error["ctx"].items()}
        found.append(jsonable_encoder(kept))
    return found


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if isinstance(detail, list):  # field errors raised by hand, named as FastAPI names its own
        found = problem(exc.status_code, INVALID, errors=field_errors(detail))
    else:
        found = problem(exc.status_code, None if detail is None else str(detail))
    return _respond(request, found, exc.headers)


async def _invalid(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    return _respond(request, problem(422, INVALID, errors=field_errors(exc.errors())))


async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _respond(request, problem(500, "an unexpected error: it is logged"))


def install(app: FastAPI) -> None:
    """The handlers, and an OpenAPI document that names the errors' media type."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(Exception, _unexpected)
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = plain_openapi()
            for path in document.get("paths", {}).values():
                for operation in path.values():
                    for answer in operation.get("responses", {}).values():
                        _problem_media_type(answer.get("content", {}))
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_media_type(content: dict[str, Any]) -> None:
    """FastAPI writes a response model's schema under application/json: move it under
    application/problem+json, which is what the error responses are."""
    if MEDIA_TYPE in content and "application/json" in content:
        content[MEDIA_TYPE] = content.pop("application/json")


# RFC 9110's names where Python's http module still has the older ones.
_RFC9110_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def _title(status: int) -> str:
    if status in _RFC9110_TITLES:
        return _RFC9110_TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """For a route's or router's ``responses``: the error bodies the OpenAPI document names."""
    return {code: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": _title(code)} for code in codes}


PROBLEM_RESPONSES = problem_responses(401, 403, 404, 422)
