"""``GET /api/v1/deadletters?device=``: the payloads refused anywhere in the pipeline, newest
first, with the reason and how many match in all (ops, auditors). Paged by cursor; the same
queries as ``coldchain dlq`` (``services/db/dead_letters.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from psycopg.rows import dict_row

from schemas.http import DeadLetterItem, DeadLetterPage
from services.api.auth import Caller
from services.api.deps import Pool
from services.api.pagination import CursorParam, decode_cursor, encode_cursor, link_next
from services.api.problems import PROBLEM_RESPONSES
from services.db.dead_letters import count_query, list_query

router = APIRouter(tags=["deadletters"], responses=PROBLEM_RESPONSES)


@router.get("/api/v1/deadletters", response_model=DeadLetterPage)
async def dead_letters(
    who: Caller, pool: Pool, request: Request, response: Response,
    device: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: CursorParam = None,
) -> DeadLetterPage:
    if who.role == "exporter":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "dead letters are for ops and auditors")
    after = None
    if cursor:
        received_at, letter_id = decode_cursor(cursor, datetime, str)
        assert isinstance(received_at, datetime) and isinstance(letter_id, str)
        after = (received_at, letter_id)
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(*count_query(device))
        total = (await cur.fetchone() or {"count": 0})["count"]
        await cur.execute(*list_query(device, limit, after))
        items = [DeadLetterItem.model_validate(row) for row in await cur.fetchall()]
    if len(items) == limit:
        link_next(request, response, encode_cursor(items[-1].received_at, items[-1].id))
    return DeadLetterPage(total=total, items=items)
