"""From a shipment id to the report's bytes: the one path both the API and the CLI take."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from schemas.shipment import DEFAULT_LANGUAGE, Shipment
from services.profiles.model import ProductProfile
from services.reports.loading import load_report
from services.reports.pdf import render_pdf


async def shipment_by_id(conn: AsyncConnection[Any], shipment_id: str) -> Shipment | None:
    cur = await conn.execute("SELECT body FROM shipments WHERE id = %s", (shipment_id,))
    row = await cur.fetchone()
    return Shipment.model_validate(row[0]) if row else None


async def shipment_pdf(conn: AsyncConnection[Any], shipment: Shipment,
                       profiles: Mapping[str, ProductProfile], language: str = DEFAULT_LANGUAGE) -> bytes:
    report = await load_report(conn, shipment, profiles, datetime.now(UTC))
    # Chart and layout are CPU work: off the event loop, so the API keeps serving meanwhile.
    return await asyncio.to_thread(render_pdf, report, language)
