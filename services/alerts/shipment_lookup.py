"""The alert service's read of the shipment registry (table ``shipments``, psycopg 3)."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from schemas.shipment import Shipment


class ShipmentLookup:
    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._pool: AsyncConnectionPool | None = None

    async def start(self) -> None:
        pool = AsyncConnectionPool(self._conninfo, min_size=1, max_size=2, open=False)
        await pool.open(wait=True)
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def get(self, shipment_id: str) -> Shipment | None:
        if self._pool is None:
            raise RuntimeError("ShipmentLookup.start() was not called")
        async with self._pool.connection() as conn:
            cursor = await conn.execute("SELECT body FROM shipments WHERE id = %s", (shipment_id,))
            row = await cursor.fetchone()
        return Shipment.model_validate(row[0]) if row else None
