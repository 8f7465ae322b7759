"""The hash chain in TimescaleDB: extended by the sink per batch, read back by verification.

Extension re-links each touched device from its earliest new reading onward, so a late
reading changes the hashes of every later reading of that device (in the same transaction
as the readings themselves). Per batch it costs one lock statement, two reads and one
COPY, whatever the number of devices and rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from services.integrity.chain import CHAINED_COLUMNS, Break, ChainedReading, DeviceVerdict, genesis, link, verify

log = logging.getLogger(__name__)

_COLS = ", ".join(f"r.{c}" for c in CHAINED_COLUMNS)
LINK_TYPES = ("text", "timestamptz", "bytea")


class ChainWriter:
    def prepare(self, conn: psycopg.Connection) -> None:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS reading_chain_in "
                     "(LIKE reading_chain) ON COMMIT DELETE ROWS")

    def extend(self, conn: psycopg.Connection, new: Sequence[ChainedReading]) -> int:
        """Links the readings just inserted (ordered by device, then time) into their devices'
        chains; a device with stored links after its earliest new reading is re-linked from
        there. Returns the links written."""
        if not new:
            return 0
        earliest: dict[str, datetime] = {}
        for reading in new:
            earliest.setdefault(reading.device_id, reading.time)
        devices = list(earliest)
        starts = list(earliest.values())
        with conn.cursor() as cur:
            # Two sinks may extend one device (a tracker moved to a shipment on another
            # partition): serialise per device; sorted, so two batches cannot deadlock.
            cur.execute("SELECT count(pg_advisory_xact_lock(hashtextextended('chain:' || d, 0)))"
                        " FROM (SELECT d FROM unnest(%s::text[]) AS d ORDER BY d COLLATE \"C\") AS sorted",
                        (devices,))
            previous, late = _chain_ends(cur, devices, starts)
            rows: list[tuple[ChainedReading, bytes | None]] = [(r, None) for r in new if r.device_id not in late]
            if late:
                rows += _stored_suffix(cur, late, {(r.device_id, r.time) for r in new if r.device_id in late})
            breaks: list[Break] = []
            links = list(relink(previous, rows, breaks))
            # No link exists yet at or after a new reading of an in-order device (checked under
            # the lock): COPY straight in. Re-linked devices update links in place.
            with cur.copy("COPY reading_chain (device_id, time, hash) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(LINK_TYPES)
                for device_id, time, digest in links:
                    if device_id not in late:
                        copy.write_row((device_id, time, digest))
            if late:
                with cur.copy("COPY reading_chain_in (device_id, time, hash) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(LINK_TYPES)
                    for device_id, time, digest in links:
                        if device_id in late:
                            copy.write_row((device_id, time, digest))
                cur.execute("INSERT INTO reading_chain (device_id, time, hash) SELECT device_id, time, hash"
                            " FROM reading_chain_in ON CONFLICT (device_id, time) DO UPDATE"
                            " SET hash = EXCLUDED.hash WHERE reading_chain.hash <> EXCLUDED.hash")
                cur.execute("TRUNCATE reading_chain_in")
            if breaks:
                _record_breaks(cur, breaks)
        return len(rows)


def _chain_ends(cur: psycopg.Cursor[Any], devices: list[str],
                starts: list[datetime]) -> tuple[dict[str, bytes], dict[str, datetime]]:
    """Per device, the hash its new links follow (the link before its earliest new reading,
    else the retention anchor, else genesis), and the devices whose chain already reaches
    past that reading (late readings: those are re-linked from there)."""
    cur.execute(
        "SELECT f.device_id, f.start, coalesce("
        " (SELECT c.hash FROM reading_chain c WHERE c.device_id = f.device_id AND c.time < f.start"
        "  ORDER BY c.time DESC LIMIT 1),"
        " (SELECT a.hash FROM reading_chain_anchors a WHERE a.device_id = f.device_id)),"
        " EXISTS (SELECT 1 FROM reading_chain c WHERE c.device_id = f.device_id AND c.time >= f.start)"
        " FROM unnest(%s::text[], %s::timestamptz[]) AS f(device_id, start)", (devices, starts))
    previous: dict[str, bytes] = {}
    late: dict[str, datetime] = {}
    for device, start, found, is_late in cur.fetchall():
        previous[device] = bytes(found) if found is not None else genesis(device)
        if is_late:
            late[device] = start
    return previous, late


def _stored_suffix(cur: psycopg.Cursor[Any], late: dict[str, datetime],
                   new_keys: set[tuple[str, datetime]]) -> list[tuple[ChainedReading, bytes | None]]:
    """The stored readings of late devices from their earliest new reading on, with their
    stored links. A reading neither new nor linked was written around the sink: it gets the
    marker ``MISSING`` so that re-linking reports it instead of silently adopting it."""
    rows: list[tuple[ChainedReading, bytes | None]] = []
    for device_id, start in late.items():
        cur.execute(
            f"SELECT {_COLS}, c.hash FROM readings r"  # noqa: S608
            " LEFT JOIN reading_chain c ON c.device_id = r.device_id AND c.time = r.time AND c.time >= %(t)s"
            " WHERE r.device_id = %(d)s AND r.time >= %(t)s ORDER BY r.time", {"d": device_id, "t": start})
        for row in cur.fetchall():
            reading = ChainedReading(*row[:-1])
            stored = bytes(row[-1]) if row[-1] is not None else None
            if stored is None and (reading.device_id, reading.time) not in new_keys:
                stored = MISSING
            rows.append((reading, stored))
    return rows


MISSING = b""  # a stored reading with no link that this batch did not insert


def relink(previous: Mapping[str, bytes], rows: Sequence[tuple[ChainedReading, bytes | None]],
            breaks: list[Break]) -> Iterator[tuple[str, datetime, bytes]]:
    """Readings with their stored link (None: new), ordered by device then time, each with
    its new chain hash. Before a late reading re-links stored readings, their stored links
    are checked, so that re-linking cannot launder an earlier change: the first
    disagreement of each device is appended to ``breaks``."""
    device_id: str | None = None
    current = stored_chain = b""
    broken = False
    for reading, stored in rows:
        if reading.device_id != device_id:
            device_id = reading.device_id
            current = stored_chain = previous[device_id]
            broken = False
        if stored is not None and not broken:
            expected = link(stored_chain, reading)
            if stored == MISSING:
                breaks.append(Break(device_id, reading.time, "missing-hash", reading, None, expected))
                broken = True
            elif expected != stored:
                breaks.append(Break(device_id, reading.time, "changed", reading, stored, expected))
                broken = True
            stored_chain = stored
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
