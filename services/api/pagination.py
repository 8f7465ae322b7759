"""The one pagination scheme of the API's lists: an opaque cursor and ``Link: rel="next"``.

A list answers at most ``limit`` items, ordered by a key that is unique (for example
``(packed_at, id)``); when the page is full it sends ``Link: <same URL with ?cursor=…>;
rel="next"`` (RFC 8288), the cursor holding the key of its last item. The next page is what
comes after that key, so rows added meanwhile never shift a page (as an offset would).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated

from fastapi import HTTPException, Query, Request, Response, status

CursorParam = Annotated[str | None, Query(max_length=400, description='from a Link: rel="next" header')]


def encode_cursor(*key: str | int | datetime) -> str:
    values = [value.isoformat() if isinstance(value, datetime) else value for value in key]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def decode_cursor(cursor: str, *types: type) -> tuple[object, ...]:
    """The key a cursor holds, each part read as ``types`` says (``datetime``, ``str``, ``int``)."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong length")
        return tuple(_read(value, kind) for value, kind in zip(values, types, strict=True))
    except (ValueError, TypeError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [{
            "loc": ["query", "cursor"], "type": "value_error", "msg": "cursor is not one this API made"}]) from exc


def _read(value: object, kind: type) -> object:
    if kind is datetime:
        if not isinstance(value, str):
            raise TypeError("not a time")
        return datetime.fromisoformat(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"not a {kind.__name__}")
    return value


def next_link(request: Request, cursor: str) -> str:
    """The ``Link`` header's value that points to the page after this one."""
    following = request.url.remove_query_params("offset").include_query_params(cursor=cursor)
    return f'<{following}>; rel="next"'


def link_next(request: Request, response: Response, cursor: str) -> None:
    response.headers["Link"] = next_link(request, cursor)
