"""``GET /api/v1/audit?table=&key=``: the append-only audit log, newest first (ops, auditors).

Every change to shipments, device bindings, API tokens and acknowledgements, as the database's
triggers wrote it (``0510_audit_log.sql``). Paged by cursor.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from psycopg.rows import dict_row

from schemas.http import AuditEntry
from services.api.auth import Caller
from services.api.deps import Pool
from services.api.pagination import CursorParam, decode_cursor, encode_cursor, link_next
from services.api.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["auditors"], responses=PROBLEM_RESPONSES)


@router.get("/api/v1/audit", response_model=list[AuditEntry])
async def audit_log(
    who: Caller, pool: Pool, request: Request, response: Response,
    table: Annotated[str | None, Query(max_length=64)] = None,
    key: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: CursorParam = None,
) -> list[AuditEntry]:
    if who.role == "exporter":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the audit log is for ops and auditors")
    clauses: list[str] = ["TRUE"]
    params: list[object] = []
    for clause, value in (("table_name = %s", table), ("row_key = %s", key)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    if cursor:
        clauses.append("id < %s")
        params.append(decode_cursor(cursor, int)[0])
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT id, at, actor, action, table_name, row_key, old, new FROM audit_log"  # noqa: S608
                          f" WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT %s", [*params, limit])
        found = [AuditEntry.model_validate(row) for row in await cur.fetchall()]
    if len(found) == limit:
        link_next(request, response, encode_cursor(found[-1].id))
    return found
