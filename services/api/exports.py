"""Readings streamed out of TimescaleDB in flat memory: a server-side cursor, chunk by chunk."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime

from psycopg_pool import AsyncConnectionPool

EXPORT_COLUMNS = ("time", "device_id", "shipment_id", "seq", "temp_c", "humidity_pct", "lat", "lon",
                  "speed_kmh", "battery_pct", "received_at")
CHUNK = 5000


async def _rows(pool: AsyncConnectionPool, shipment_id: str, start: datetime | None, end: datetime | None,
                device: str | None) -> AsyncIterator[tuple[object, ...]]:
    clauses = ["shipment_id = %s"]
    params: list[object] = [shipment_id]
    for clause, value in (("time >= %s", start), ("time < %s", end), ("device_id = %s", device)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    sql = (f"SELECT {', '.join(EXPORT_COLUMNS)} FROM readings WHERE {' AND '.join(clauses)}"  # noqa: S608
           " ORDER BY time, device_id")
    async with pool.connection() as conn, conn.transaction():
        async with conn.cursor(name="readings_export") as cur:
            cur.itersize = CHUNK
            await cur.execute(sql, params)
            async for row in cur:
                yield row


def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


async def as_csv(pool: AsyncConnectionPool, shipment_id: str, start: datetime | None, end: datetime | None,
                 device: str | None) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    async for row in _rows(pool, shipment_id, start, end, device):
        writer.writerow(["" if v is None else _iso(v) for v in row])
        count += 1
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


async def as_json(pool: AsyncConnectionPool, shipment_id: str, start: datetime | None, end: datetime | None,
                  device: str | None) -> AsyncIterator[str]:
    yield "["
    first = True
    async for row in _rows(pool, shipment_id, start, end, device):
        item = json.dumps({k: _iso(v) for k, v in zip(EXPORT_COLUMNS, row, strict=True)})
        yield item if first else "," + item
        first = False
    yield "]"
