"""The hash chain in TimescaleDB: extended by the sink per batch, read back by verification.

Extension re-links each touched device from its earliest new reading onward, so a late
reading changes the hashes of every later reading of that device (in the same transaction
as the readings themselves). Per batch it costs one lock statement, two reads and one
COPY, whatever the number of devices and rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from services.integrity.chain import CHAINED_COLUMNS, Break, ChainedReading, DeviceVerdict, genesis, link, verify

log = logging.getLogger(__name__)

_COLS = ", ".join(f"r.{c}" for c in CHAINED_COLUMNS)


class ChainWriter:
    def prepare(self, conn: psycopg.Connection) -> None:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS reading_chain_in "
                     "(LIKE reading_chain) ON COMMIT DELETE ROWS")

    def extend(self, conn: psycopg.Connection, earliest_new: Mapping[str, datetime]) -> int:
        """Re-links each device's chain from its earliest new reading; returns the links written."""
        if not earliest_new:
            return 0
        devices = sorted(earliest_new)
        starts = [earliest_new[d] for d in devices]
        with conn.cursor() as cur:
            # Two sinks may extend one device (a tracker moved to a shipment on another
            # partition): serialise per device; sorted, so two batches cannot deadlock.
            cur.execute("SELECT count(pg_advisory_xact_lock(hashtextextended('chain:' || d, 0)))"
                        " FROM unnest(%s::text[]) AS d", (devices,))
            previous = _previous_hashes(cur, devices, starts)
            cur.execute(
                f"SELECT {_COLS}, c.hash FROM unnest(%s::text[], %s::timestamptz[]) AS f(device_id, start)"  # noqa: S608
                " JOIN readings r ON r.device_id = f.device_id AND r.time >= f.start"
                " LEFT JOIN reading_chain c ON c.device_id = r.device_id AND c.time = r.time"
                " ORDER BY r.device_id, r.time", (devices, starts))
            rows = cur.fetchall()
            breaks: list[Break] = []
            with cur.copy("COPY reading_chain_in (device_id, time, hash) FROM STDIN") as copy:
                for device_id, time, digest in _relink(previous, rows, breaks):
                    copy.write_row((device_id, time, digest))
            if breaks:
                _record_breaks(cur, breaks)
            cur.execute("INSERT INTO reading_chain (device_id, time, hash) SELECT device_id, time, hash"
                        " FROM reading_chain_in ON CONFLICT (device_id, time) DO UPDATE SET hash = EXCLUDED.hash"
                        " WHERE reading_chain.hash <> EXCLUDED.hash")
            cur.execute("TRUNCATE reading_chain_in")
        return len(rows)


def _previous_hashes(cur: psycopg.Cursor[Any], devices: list[str], starts: list[datetime]) -> dict[str, bytes]:
    """The hash each device's re-linking starts from: the link before ``start``, else the
    retention anchor, else the genesis hash."""
    cur.execute(
        "SELECT f.device_id, coalesce("
        " (SELECT c.hash FROM reading_chain c WHERE c.device_id = f.device_id AND c.time < f.start"
        "  ORDER BY c.time DESC LIMIT 1),"
        " (SELECT a.hash FROM reading_chain_anchors a WHERE a.device_id = f.device_id))"
        " FROM unnest(%s::text[], %s::timestamptz[]) AS f(device_id, start)", (devices, starts))
    return {device: bytes(found) if found is not None else genesis(device) for device, found in cur.fetchall()}


def _relink(previous: Mapping[str, bytes], rows: list[tuple[Any, ...]],
            breaks: list[Break]) -> Iterator[tuple[str, datetime, bytes]]:
    """Rows (readings then their stored hash) ordered by device then time, each with its new
    chain hash. Before a late reading re-links stored readings, their stored links are
    checked, so that re-linking cannot launder an earlier change: the first disagreement of
    each device is appended to ``breaks``."""
    device_id: str | None = None
    current = stored_chain = b""
    broken = False
    for row in rows:
        reading, stored = ChainedReading(*row[:-1]), row[-1]
        if reading.device_id != device_id:
            device_id = reading.device_id
            current = stored_chain = previous[device_id]
            broken = False
        if stored is not None and not broken:
            expected = link(stored_chain, reading)
            if expected != bytes(stored):
                breaks.append(Break(device_id, reading.time, "changed", reading, bytes(stored), expected))
                broken = True
            stored_chain = bytes(stored)
        current = link(current, reading)
        yield device_id, reading.time, current


def _record_breaks(cur: psycopg.Cursor[Any], breaks: list[Break]) -> None:
    """Kept in the append-only audit log: the evidence outlives the re-linked hashes."""
    log.error("hash chain: %d device(s) with a stored reading that differs from its link; first: %s",
              len(breaks), breaks[0].describe())
    cur.executemany(
        "INSERT INTO audit_log (actor, action, table_name, row_key, old, new)"
        " VALUES ('sink', 'chain-break', 'readings', %s, %s, %s)",
        [(f"{b.device_id}@{b.time.isoformat()}", Jsonb({"stored_hash": (b.stored_hash or b"").hex()}),
          Jsonb({"computed_hash": (b.computed_hash or b"").hex(), "description": b.describe()})) for b in breaks])


def logged_breaks(conn: psycopg.Connection, device_id: str) -> list[tuple[datetime, str, str]]:
    """Chain breaks the sink found while re-linking (``at``, reading key, description)."""
    return [(at, key, description) for at, key, description in conn.execute(
        "SELECT at, row_key, new ->> 'description' FROM audit_log WHERE action = 'chain-break'"
        " AND table_name = 'readings' AND split_part(row_key, '@', 1) = %s ORDER BY at", (device_id,))]


def shipment_devices(conn: psycopg.Connection, shipment_id: str) -> list[str] | None:
    """The devices of a shipment (registered, or seen in its readings); None if unknown."""
    found = conn.execute("SELECT 1 FROM shipments WHERE id = %s", (shipment_id,)).fetchone()
    devices = [row[0] for row in conn.execute(
        "SELECT device_id FROM shipment_devices WHERE shipment_id = %s"
        " UNION SELECT DISTINCT device_id FROM readings WHERE shipment_id = %s ORDER BY 1",
        (shipment_id, shipment_id))]
    return devices if found or devices else None


def verify_device(conn: psycopg.Connection, device_id: str) -> DeviceVerdict:
    """Recomputes one device's whole stored chain (from its anchor or genesis)."""
    anchor = conn.execute("SELECT hash FROM reading_chain_anchors WHERE device_id = %s", (device_id,)).fetchone()
    start = bytes(anchor[0]) if anchor else genesis(device_id)
    cols = ", ".join(f"r.{c}" for c in CHAINED_COLUMNS[2:])
    with conn.transaction(), conn.cursor(name="verify_chain") as cur:
        cur.itersize = 5000
        cur.execute(
            f"SELECT coalesce(r.time, c.time), r.time IS NOT NULL, {cols}, c.hash"  # noqa: S608
            " FROM (SELECT * FROM readings WHERE device_id = %(d)s) r"
            " FULL JOIN (SELECT * FROM reading_chain WHERE device_id = %(d)s) c ON c.time = r.time"
            " ORDER BY 1", {"d": device_id})
        rows = ((row[0], ChainedReading(row[0], device_id, *row[2:-1]) if row[1] else None,
                 bytes(row[-1]) if row[-1] is not None else None) for row in cur)
        return verify(device_id, start, rows)
