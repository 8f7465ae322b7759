"""Auditors' routes: the shipment PDF report and the audit log.

- ``GET /api/v1/shipments/{id}/report.pdf?lang=``: the report (services/reports/pdf.py), in
  English unless ``lang`` names another supported language (``fr-CA``, ``zh-CN``; 422 otherwise).
- ``GET /api/v1/audit?table=&key=&limit=``: the append-only audit log, newest first (ops, auditor).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from schemas.shipment import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES, supported_language
from services.api.auth import Caller
from services.api.limits import StreamSlots
from services.profiles.model import ProductProfile
from services.reports.loading import load_report
from services.reports.pdf import render_pdf
from services.reports.rendering import shipment_by_id


def router(pool: AsyncConnectionPool, profiles: Mapping[str, ProductProfile], slots: StreamSlots) -> APIRouter:
    routes = APIRouter(tags=["auditors"])

    @routes.get("/api/v1/shipments/{shipment_id}/report.pdf", response_class=Response,
                responses={200: {"content": {"application/pdf": {}}}})
    async def report_pdf(
        shipment_id: str, who: Caller,
        lang: Annotated[str, Query(description=f"BCP 47: one of {', '.join(SUPPORTED_LANGUAGES)}")] = DEFAULT_LANGUAGE,
    ) -> Response:
        try:
            language = supported_language(lang)
        except ValueError as exc:
            # Named like FastAPI's own validation errors, as the registration names its field.
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [{
                "loc": ["query", "lang"], "type": "value_error", "msg": str(exc)}]) from exc
        async with slots.held(who.token_id):
            async with pool.connection() as conn:
                shipment = await shipment_by_id(conn, shipment_id)
                # Another party's shipment is "not found", not "forbidden": its existence is private too.
                if shipment is None or not who.may_see(shipment.seller.name, shipment.buyer.name):
                    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no shipment {shipment_id!r}")
                report = await load_report(conn, shipment, profiles, datetime.now(UTC))
            # The connection goes back to the pool before the CPU-bound rendering starts.
            pdf = await asyncio.to_thread(render_pdf, report, language)
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{shipment_id}.pdf"',
                                 "Content-Language": language})

    @routes.get("/api/v1/audit")
    async def audit_log(
        who: Caller, table: str | None = None, key: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        if who.role == "exporter":
            raise HTTPException(status.HTTP_403_FORBIDDEN, "the audit log is for ops and auditors")
        clauses, params = ["TRUE"], []
        for clause, value in (("table_name = %s", table), ("row_key = %s", key)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(f"SELECT id, at, actor, action, table_name, row_key, old, new FROM audit_log"  # noqa: S608
                              f" WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT %s", [*params, limit])
            return list(await cur.fetchall())

    return routes
