"""The shipment registry in PostgreSQL (table ``shipments``, psycopg 3): the API's store,
and the reads every other service makes of it.

The stream processors read its copy on the compacted topic instead (``topic``, ``record``);
ingest reads the device bindings (``bindings``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from schemas.shipment import Shipment, ShipmentCancel, ShipmentIn, ShipmentPatch
from services.alerts.zones import shipment_zones
from services.registry.access import Parties

BODY_BY_ID = "SELECT body FROM shipments WHERE id = %s"


class ShipmentExists(Exception):
    pass


class ShipmentRegistry:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def register(self, body: ShipmentIn, actor: str | None = None) -> Shipment:
        # Each party's zone, and where it came from, is worked out once and kept with the
        # record: what the API shows is what the alert service uses.
        shipment = Shipment(**body.model_dump(), created_at=datetime.now(UTC), party_zones=shipment_zones(body))
        async with self.pool.connection() as conn, conn.transaction():
            if actor is not None:  # who, in the audit log (0510_audit_log.sql)
                await conn.execute("SELECT set_config('coldchain.actor', %s, true)", (actor,))
            try:
                await conn.execute(
                    "INSERT INTO shipments (id, product, packed_at, deliver_by, seller_name, buyer_name, body,"
                    " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (shipment.id, shipment.product, shipment.packed_at, shipment.deliver_by,
                     shipment.seller.name, shipment.buyer.name,
                     Jsonb(shipment.model_dump(mode="json")), shipment.created_at),
                )
            except psycopg.errors.UniqueViolation as exc:
                raise ShipmentExists(shipment.id) from exc
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO shipment_devices (shipment_id, device_id, packed_at) VALUES (%s, %s, %s)",
                    [(shipment.id, device, shipment.packed_at) for device in shipment.devices],
                )
        return shipment

    async def correct(self, shipment_id: str, change: ShipmentPatch | ShipmentCancel, actor: str) -> Shipment | None:
        """Applies a correction or a cancel in one transaction (audited); None if unknown.
        The merged registration passes every rule a new one does (a 422 otherwise)."""
        now = datetime.now(UTC)
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT set_config('coldchain.actor', %s, true)", (actor,))
            row = await (await conn.execute("SELECT body FROM shipments WHERE id = %s FOR UPDATE",
                                            (shipment_id,))).fetchone()
            if row is None:
                return None
            before = _read(row[0])
            shipment = corrected(before, change, now)
            await conn.execute(
                "UPDATE shipments SET deliver_by = %s, seller_name = %s, buyer_name = %s, body = %s WHERE id = %s",
                (shipment.deliver_by, shipment.seller.name, shipment.buyer.name,
                 Jsonb(shipment.model_dump(mode="json")), shipment_id))
            if set(shipment.devices) != set(before.devices):
                await conn.execute("DELETE FROM shipment_devices WHERE shipment_id = %s AND NOT device_id = ANY(%s)",
                                   (shipment_id, shipment.devices))
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO shipment_devices (shipment_id, device_id, packed_at) VALUES (%s, %s, %s)"
                        " ON CONFLICT DO NOTHING",
                        [(shipment_id, device, shipment.packed_at) for device in shipment.devices])
        return shipment

    async def get(self, shipment_id: str) -> Shipment | None:
        async with self.pool.connection() as conn:
            return await shipment_by_id(conn, shipment_id)

    async def search(self, party: str | None, product: str | None, device: str | None, limit: int,
                     after: tuple[datetime, str] | None = None, offset: int = 0) -> list[Shipment]:
        """Newest packed first, by ``(packed_at, id)``; ``party`` (a viewer's ``scope_of``, or
        the query's) keeps those where it is seller or buyer; ``after``: the key of the last
        one already seen."""
        clauses: list[str] = []
        params: list[object] = []
        if party is not None:
            clauses.append("(seller_name = %s OR buyer_name = %s)")
            params += [party, party]
        if product:
            clauses.append("product = %s")
            params.append(product)
        if device:
            clauses.append("id IN (SELECT shipment_id FROM shipment_devices WHERE device_id = %s)")
            params.append(device)
        if after is not None:
            clauses.append("(packed_at, id) < (%s, %s)")
            params += list(after)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT body FROM shipments {where} ORDER BY packed_at DESC, id DESC LIMIT %s OFFSET %s",  # noqa: S608
                [*params, limit, offset],
            )
            return [_read(row[0]) for row in await cur.fetchall()]

    async def all(self) -> list[Shipment]:
        async with self.pool.connection() as conn:
            cur = await conn.execute("SELECT body FROM shipments ORDER BY created_at")
            return [_read(row[0]) for row in await cur.fetchall()]

    async def last_reading(self, shipment_id: str) -> dict[str, Any] | None:
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT time, device_id, temp_c, humidity_pct, lat, lon FROM readings"
                " WHERE shipment_id = %s ORDER BY time DESC LIMIT 1", (shipment_id,))
            return await cur.fetchone()

    async def excursions(self, shipment_id: str, open_only: bool = False) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT id, device_id, kind, severity, status, started_at, ended_at, duration_min, peak_c,"
                " degree_minutes, peak_humidity_pct, humidity_pct_minutes, profile, limits, revision, found_late"
                " FROM excursions WHERE shipment_id = %s AND status <> 'retracted'"
                " AND (NOT %s OR status = 'open') ORDER BY started_at, device_id", (shipment_id, open_only))
            return await cur.fetchall()

    async def latest_eta(self, shipment_id: str) -> dict[str, Any] | None:
        async with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                "SELECT time AS event_time, kind, eta, deliver_by, phase, leg_index, leg_name, remaining_km,"
                " temp_c, viability_used_h, viability_remaining_at_eta_h, viability_ends_at, viability_state,"
                " viability_lost_at, viability_lost_reason, at_risk, risk_reasons"
                " FROM eta WHERE shipment_id = %s ORDER BY time DESC, id DESC LIMIT 1", (shipment_id,))
            return await cur.fetchone()


def corrected(before: Shipment, change: ShipmentPatch | ShipmentCancel, now: datetime) -> Shipment:
    """The registration after a correction or a cancel (pure). Zones are worked out again for
    changed parties; a ValidationError names what the merged registration breaks."""
    if isinstance(change, ShipmentCancel):
        if before.cancelled_at is not None:
            return before
        return before.model_copy(update={"cancelled_at": now, "cancel_reason": change.reason, "updated_at": now})
    fields = change.model_dump(exclude_unset=True)
    merged = {**before.model_dump(), **fields}
    incoming = ShipmentIn.model_validate({k: v for k, v in merged.items() if k in ShipmentIn.model_fields})
    return Shipment(**incoming.model_dump(), created_at=before.created_at, party_zones=shipment_zones(incoming),
                    updated_at=now, cancelled_at=before.cancelled_at, cancel_reason=before.cancel_reason)


async def shipment_by_id(conn: psycopg.AsyncConnection[Any], shipment_id: str) -> Shipment | None:
    row = await (await conn.execute(BODY_BY_ID, (shipment_id,))).fetchone()
    return _read(row[0]) if row else None


def shipment_by_id_sync(conn: psycopg.Connection[Any], shipment_id: str) -> Shipment | None:
    """``shipment_by_id`` for the synchronous connections of the command line."""
    row = conn.execute(BODY_BY_ID, (shipment_id,)).fetchone()
    return _read(row[0]) if row else None


async def shipment_exists(conn: psycopg.AsyncConnection[Any], shipment_id: str) -> bool:
    """Whether the id is registered, without parsing the registration."""
    return await (await conn.execute("SELECT 1 FROM shipments WHERE id = %s", (shipment_id,))).fetchone() is not None


async def parties_by_id(conn: psycopg.AsyncConnection[Any], shipment_id: str) -> Parties | None:
    """The seller and buyer names alone: their own columns, without decoding the record."""
    cur = await conn.execute("SELECT seller_name, buyer_name FROM shipments WHERE id = %s", (shipment_id,))
    row = await cur.fetchone()
    return Parties(row[0], row[1]) if row else None


class ShipmentLookup:
    """Shipments by id from a small pool of its own: the alert service's read."""

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
            return await shipment_by_id(conn, shipment_id)


def _read(body: Any) -> Shipment:
    """A stored record; one registered before zones were worked out gets them now, as the
    alert service would (services/alerts/policy.py recipients_for)."""
    shipment = Shipment.model_validate(body)
    if shipment.party_zones is None:
        shipment = shipment.model_copy(update={"party_zones": shipment_zones(shipment)})
    return shipment
