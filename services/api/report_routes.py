"""Auditors' routes: the shipment's documents and the audit log.

- ``GET /api/v1/shipments/{id}/report.pdf``: the report (services/reports/pdf.py).
- ``GET /api/v1/shipments/{id}/epcis``: GS1 EPCIS 2.0 JSON-LD (services/reports/epcis.py).
- ``GET /api/v1/shipments/{id}/fsma204?format=csv|xlsx``: the FDA FSMA 204 sortable
  spreadsheet (services/reports/fsma204.py).

Each takes the same path: the caller must see the shipment (another party's is a 404),
and one of the caller's stream slots is held while its report is loaded and rendered.
The audit log is in ``audit_routes``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response

from schemas.shipment import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES, supported_language
from services.api.auth import Caller, not_found
from services.api.deps import ApiState, State
from services.api.problems import PROBLEM_RESPONSES
from services.api.tokens import Principal
from services.registry.access import may_see
from services.registry.postgres import shipment_by_id
from services.reports.epcis import MEDIA_TYPE as EPCIS_MEDIA_TYPE
from services.reports.fsma204 import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from services.reports.loading import load_report
from services.reports.rendering import DocumentKind, render_document

router = APIRouter(tags=["auditors"], responses=PROBLEM_RESPONSES)

LanguageParam = Annotated[str, Query(max_length=20, description=f"BCP 47: one of {', '.join(SUPPORTED_LANGUAGES)}")]


async def _document(shipment_id: str, who: Principal, kind: DocumentKind, disposition: str, state: ApiState,
                    language: str = DEFAULT_LANGUAGE) -> Response:
    async with state.streams.held(who.token_id):
        async with state.pool.connection() as conn:
            shipment = await shipment_by_id(conn, shipment_id)
            # Another party's shipment is "not found", not "forbidden": its existence is private too.
            if shipment is None or not may_see(who, shipment):
                raise not_found(shipment_id)
            report = await load_report(conn, shipment, state.profiles, datetime.now(UTC))
        # The connection goes back to the pool before the CPU-bound rendering starts.
        rendered = await asyncio.to_thread(render_document, report, kind, state.settings.base_url, language)
    return Response(rendered.body, media_type=rendered.media_type,
                    headers={"Content-Disposition": f'{disposition}; filename="{rendered.filename}"',
                             "Content-Language": language})


@router.get("/api/v1/shipments/{shipment_id}/report.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
async def report_pdf(shipment_id: str, who: Caller, state: State, lang: LanguageParam = DEFAULT_LANGUAGE) -> Response:
    try:
        language = supported_language(lang)
    except ValueError as exc:
        # Named like FastAPI's own validation errors, as the registration names its field.
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [{
            "loc": ["query", "lang"], "type": "value_error", "msg": str(exc)}]) from exc
    return await _document(shipment_id, who, "pdf", "inline", state, language)


@router.get("/api/v1/shipments/{shipment_id}/epcis", response_class=Response,
            responses={200: {"content": {EPCIS_MEDIA_TYPE: {}},
                             "description": "GS1 EPCIS 2.0 document (JSON-LD) of the shipment"}})
async def report_epcis(shipment_id: str, who: Caller, state: State) -> Response:
    return await _document(shipment_id, who, "epcis", "inline", state)


@router.get("/api/v1/shipments/{shipment_id}/fsma204", response_class=Response,
            responses={200: {"content": {CSV_MEDIA_TYPE: {}, XLSX_MEDIA_TYPE: {}},
                             "description": "FDA FSMA 204 sortable spreadsheet: shipping and receiving"}})
async def report_fsma204(shipment_id: str, who: Caller, state: State,
                         format: Literal["csv", "xlsx"] = "csv") -> Response:
    kind: DocumentKind = "fsma204-xlsx" if format == "xlsx" else "fsma204-csv"
    return await _document(shipment_id, who, kind, "attachment", state)
