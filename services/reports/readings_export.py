"""Readings streamed out of TimescaleDB in flat memory: a server-side cursor, chunk by chunk.

The API's ``GET /api/v1/shipments/{id}/readings`` and ``coldchain report --format csv|json``
both stream these. Ordered by ``(time, device_id)``, unique per shipment; a page starts
after a key (``after``) and holds at most ``limit`` rows (both optional: all of them).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from psycopg_pool import AsyncConnectionPool

EXPORT_COLUMNS = ("time", "device_id", "shipment_id", "seq", "temp_c", "humidity_pct", "lat", "lon",
                  "speed_kmh", "battery_pct", "received_at")
CHUNK = 5000


Key = tuple[datetime, str]  # (time, device_id) of a reading


@dataclass(frozen=True)
class Page:
    after: Key | None = None
    limit: int | None = None


def _where(shipment_id: str, start: datetime | None, end: datetime | None, device: str | None,
           after: Key | None) -> tuple[str, list[object]]:
    clauses = ["shipment_id = %s"]
    params: list[object] = [shipment_id]
    for clause, value in (("time >= %s", start), ("time < %s", end), ("device_id = %s", device)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    if after is not None:
        clauses.append("(time, device_id) > (%s, %s)")
        params += list(after)
    return " AND ".join(clauses), params


async def next_key(pool: AsyncConnectionPool, shipment_id: str, start: datetime | None, end: datetime | None,
                   device: str | None, page: Page) -> Key | None:
    """The key of the page's last row when more rows follow it, else None (no next page)."""
    if page.limit is None:
        return None
    where, params = _where(shipment_id, start, end, device, page.after)
    async with pool.connection() as conn:
        cur = await conn.execute(f"SELECT time, device_id FROM readings WHERE {where}"  # noqa: S608
                                 " ORDER BY time, device_id OFFSET %s LIMIT 2", [*params, page.limit - 1])
        rows = await cur.fetchall()
    return (rows[0][0], rows[0][1]) if len(rows) == 2 else None


async def _rows(pool: AsyncConnectionPool, shipment_id: str, start: datetime | None, end: datetime | None,
                device: str | None, page: Page) -> AsyncIterator[tuple[object, ...]]:
    where, params = _where(shipment_id, start, end, device, page.after)
    sql = f"SELECT {', '.join(EXPORT_COLUMNS)} FROM readings WHERE {where} ORDER BY time, device_id"  # noqa: S608
    if page.limit is not None:
        sql += " LIMIT %s"
        params.append(page.limit)
    async with pool.connection() as conn, conn.transaction():
        async with conn.cursor(name="readings_export") as cur:
            cur.itersize = CHUNK
            await cur.execute(sql, params)
            async for row in cur:
                yield row


def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


async def as_csv(pool: AsyncConnectionPool, shipment_id: str, start: datetime | None, end: datetime | None,
                 device: str | None, page: Page = Page()) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    async for row in _rows(pool, shipment_id, start, end, device, page):
        writer.writerow(["" if v is None else _iso(v) for v in row])
        count += 1
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


async def as_json(pool: AsyncConnectionPool, shipment_id: str, start: datetime | None, end: datetime | None,
                  device: str | None, page: Page = Page()) -> AsyncIterator[str]:
    yield "["
    first = True
    async for row in _rows(pool, shipment_id, start, end, device, page):
        item = json.dumps({k: _iso(v) for k, v in zip(EXPORT_COLUMNS, row, strict=True)})
        yield item if first else "," + item
        first = False
    yield "]"
