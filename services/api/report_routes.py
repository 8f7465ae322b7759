"""Auditors' routes: the shipment's documents and the audit log.

- ``GET /api/v1/shipments/{id}/report.pdf``: the report (services/reports/pdf.py).
- ``GET /api/v1/shipments/{id}/epcis``: GS1 EPCIS 2.0 JSON-LD (services/reports/epcis.py).
- ``GET /api/v1/shipments/{id}/fsma204?format=csv|xlsx``: the FDA FSMA 204 sortable
  spreadsheet (services/reports/fsma204.py).

Each takes the same path: the caller must see the shipment (another party's is a 404),
and one of the caller's stream slots is held while its report is loaded and rendered.
- ``GET /api/v1/audit?table=&key=&limit=``: the append-only audit log, newest first (ops, auditor).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from schemas.shipment import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES, supported_language
from services.api.auth import Caller
from services.api.limits import StreamSlots
from services.api.tokens import Principal
from services.profiles.model import ProductProfile
from services.reports.epcis import MEDIA_TYPE as EPCIS_MEDIA_TYPE
from services.reports.fsma204 import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from services.reports.loading import load_report
from services.reports.rendering import DocumentKind, render_document, shipment_by_id


def router(pool: AsyncConnectionPool, profiles: Mapping[str, ProductProfile], slots: StreamSlots,
           public_url: str = "http://127.0.0.1:8000") -> APIRouter:
    routes = APIRouter(tags=["auditors"])

    async def document(shipment_id: str, who: Principal, kind: DocumentKind, disposition: str,
                       language: str = DEFAULT_LANGUAGE) -> Response:
        async with slots.held(who.token_id):
            async with pool.connection() as conn:
                shipment = await shipment_by_id(conn, shipment_id)
                # Another party's shipment is "not found", not "forbidden": its existence is private too.
                if shipment is None or not who.may_see(shipment.seller.name, shipment.buyer.name):
                    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no shipment {shipment_id!r}")
                report = await load_report(conn, shipment, profiles, datetime.now(UTC))
            # The connection goes back to the pool before the CPU-bound rendering starts.
            rendered = await asyncio.to_thread(render_document, report, kind, public_url, language)
        return Response(rendered.body, media_type=rendered.media_type,
                        headers={"Content-Disposition": f'{disposition}; filename="{rendered.filename}"',
                                 "Content-Language": language})

    @routes.get("/api/v1/shipments/{shipment_id}/report.pdf", response_class=Response,
                responses={200: {"content": {"application/pdf": {}}}})
    async def report_pdf(
        shipment_id: str, who: Caller,
        lang: Annotated[str, Query(max_length=20,
                                   description=f"BCP 47: one of {', '.join(SUPPORTED_LANGUAGES)}")] = DEFAULT_LANGUAGE,
    ) -> Response:
        try:
            language = supported_language(lang)
        except ValueError as exc:
            # Named like FastAPI's own validation errors, as the registration names its field.
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [{
                "loc": ["query", "lang"], "type": "value_error", "msg": str(exc)}]) from exc
        return await document(shipment_id, who, "pdf", "inline", language)

    @routes.get("/api/v1/shipments/{shipment_id}/epcis", response_class=Response,
                responses={200: {"content": {EPCIS_MEDIA_TYPE: {}},
                                 "description": "GS1 EPCIS 2.0 document (JSON-LD) of the shipment"}})
    async def report_epcis(shipment_id: str, who: Caller) -> Response:
        return await document(shipment_id, who, "epcis", "inline")

    @routes.get("/api/v1/shipments/{shipment_id}/fsma204", response_class=Response,
                responses={200: {"content": {CSV_MEDIA_TYPE: {}, XLSX_MEDIA_TYPE: {}},
                                 "description": "FDA FSMA 204 sortable spreadsheet: shipping and receiving"}})
    async def report_fsma204(shipment_id: str, who: Caller, format: Literal["csv", "xlsx"] = "csv") -> Response:
        return await document(shipment_id, who, "fsma204-xlsx" if format == "xlsx" else "fsma204-csv", "attachment")

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
