"""The hash chain in TimescaleDB: worked out by the sink per batch, stored with each reading
(``readings.chain_hash``), read back by verification.

A batch's readings get their hashes before they are copied in, so a reading is written once.
A late reading changes the hashes of every later reading of its device: those are re-linked
in place, in the same transaction. Per batch it costs one lock statement and one read, plus,
for late devices only, a read of their later readings and one update.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from services.integrity.chain import CHAINED_COLUMNS, Break, ChainedReading, DeviceVerdict, genesis, link, links, verify

log = logging.getLogger(__name__)

_COLS = ", ".join(CHAINED_COLUMNS)
_COLS_OF_R = ", ".join(f"r.{c}" for c in CHAINED_COLUMNS)
LINK_TYPES = ("text", "timestamptz", "bytea")
# Per late device, its stored readings from its earliest new one on, each with its hash.
Suffixes = dict[str, list[tuple[ChainedReading, bytes]]]


class ChainWriter:
    def prepare(self, conn: psycopg.Connection) -> None:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS reading_links_in "
                     "(device_id text, time timestamptz, hash bytea) ON COMMIT DELETE ROWS")

    def link(self, conn: psycopg.Connection, candidates: Sequence[tuple[Any, ...]]) -> Sequence[bytes | None]:
        """Per candidate reading (a row beginning with the fields of a ``ChainedReading``;
        ordered by device, then time; one per device and time), its chain hash, or None when
        that reading is stored already. Holds each device's lock until the transaction ends:
        the caller stores the new readings, with these hashes, in it."""
        if not candidates:
            return []
        earliest: dict[str, datetime] = {}
        for row in candidates:
            earliest.setdefault(row[1], row[0])
        with conn.cursor() as cur:
            # Two sinks may extend one device (a tracker moved to a shipment on another
            # partition): serialise per device; sorted, so two batches cannot deadlock.
            cur.execute("SELECT count(pg_advisory_xact_lock(hashtextextended('chain:' || d, 0)))"
                        " FROM (SELECT d FROM unnest(%s::text[]) AS d ORDER BY d COLLATE \"C\") AS sorted",
                        (list(earliest),))
            previous, late = _chain_ends(cur, list(earliest), list(earliest.values()))
            if not late:  # a landed backlog, live tracking: nothing stored at or after them
                return links(previous, candidates)
            chained = [ChainedReading._make(row[:10]) for row in candidates]
            rows, positions, previous = _merged(chained, _stored_suffix(cur, late), previous)
            hashes: list[bytes | None] = [None] * len(candidates)
            changed: list[tuple[str, datetime, bytes]] = []
            breaks: list[Break] = []
            for (_, stored), position, (device_id, time, digest) in zip(rows, positions,
                                                                         relink(previous, rows, breaks), strict=True):
                if position is not None:
                    hashes[position] = digest
                elif digest != stored:
                    changed.append((device_id, time, digest))
            if changed:
                _update_links(cur, changed)
            if breaks:
                _record_breaks(cur, breaks)
        return hashes


def _chain_ends(cur: psycopg.Cursor[Any], devices: list[str],
                starts: list[datetime]) -> tuple[dict[str, bytes], dict[str, datetime]]:
    """Per device, the hash its new readings follow (that of its last linked reading before
    its earliest new one, else the retention anchor, else genesis), and the devices with a
    reading stored at or after that one (late readings, or some stored already)."""
    cur.execute(
        "SELECT f.device_id, f.start, coalesce("
        " (SELECT r.chain_hash FROM readings r WHERE r.device_id = f.device_id AND r.time < f.start"
        "  AND r.chain_hash IS NOT NULL ORDER BY r.time DESC LIMIT 1),"
        " (SELECT a.hash FROM reading_chain_anchors a WHERE a.device_id = f.device_id)),"
        " EXISTS (SELECT 1 FROM readings r WHERE r.device_id = f.device_id AND r.time >= f.start)"
        " FROM unnest(%s::text[], %s::timestamptz[]) AS f(device_id, start)", (devices, starts))
    previous: dict[str, bytes] = {}
    late: dict[str, datetime] = {}
    for device, start, found, is_late in cur.fetchall():
        previous[device] = bytes(found) if found is not None else genesis(device)
        if is_late:
            late[device] = start
    return previous, late


def _stored_suffix(cur: psycopg.Cursor[Any], late: dict[str, datetime]) -> Suffixes:
    """The stored readings of late devices from their earliest new reading on, with their
    hashes. A reading the sink never linked (written around it) gets the marker ``MISSING``,
    so that re-linking reports it instead of silently adopting it."""
    cur.execute(f"SELECT {_COLS_OF_R}, r.chain_hash FROM unnest(%s::text[], %s::timestamptz[]) AS f(device_id, start)"  # noqa: S608
                " JOIN LATERAL (SELECT * FROM readings WHERE device_id = f.device_id AND time >= f.start) r ON true"
                " ORDER BY r.device_id, r.time", (list(late), list(late.values())))
    found: Suffixes = {}
    for row in cur.fetchall():
        reading = ChainedReading(*row[:-1])
        found.setdefault(reading.device_id, []).append((reading, bytes(row[-1]) if row[-1] is not None else MISSING))
    return found


def _merged(candidates: Sequence[ChainedReading], stored: Suffixes, previous: Mapping[str, bytes],
            ) -> tuple[list[tuple[ChainedReading, bytes | None]], list[int | None], dict[str, bytes]]:
    """The rows ``relink`` walks: per device, its new candidates among its stored readings
    from the first new one on, in time order (stored hash, or None for a new reading); each
    row's candidate index (None for a stored reading); and the hash each device's rows follow.
    A candidate stored already is left out (the table keeps what it holds); a device with
    no new candidate has no rows: nothing of it changes."""
    rows: list[tuple[ChainedReading, bytes | None]] = []
    positions: list[int | None] = []
    starts = dict(previous)
    for device_id, group in itertools.groupby(enumerate(candidates), key=lambda pair: pair[1].device_id):
        suffix = stored.get(device_id, [])
        held = {reading.time for reading, _ in suffix}
        new = [(position, reading) for position, reading in group if reading.time not in held]
        if not new:
            continue
        first = new[0][1].time
        after: list[tuple[datetime, int | None, ChainedReading, bytes | None]] = []
        for reading, digest in suffix:
            if reading.time >= first:
                after.append((reading.time, None, reading, digest))
            elif digest != MISSING:
                starts[device_id] = digest
        after += [(reading.time, position, reading, None) for position, reading in new]
        after.sort(key=lambda entry: entry[0])  # one entry per time
        for _, index, reading, stored_hash in after:
            rows.append((reading, stored_hash))
            positions.append(index)
    return rows, positions, starts


def _update_links(cur: psycopg.Cursor[Any], changed: list[tuple[str, datetime, bytes]]) -> None:
    with cur.copy("COPY reading_links_in (device_id, time, hash) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(LINK_TYPES)
        for row in changed:
            copy.write_row(row)
    cur.execute("UPDATE readings r SET chain_hash = l.hash FROM reading_links_in l"
                " WHERE r.device_id = l.device_id AND r.time = l.time AND r.time >= %s",
                (min(time for _, time, _ in changed),))
    cur.execute("TRUNCATE reading_links_in")


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
    with conn.transaction(), conn.cursor(name="verify_chain") as cur:
        cur.itersize = 5000
        cur.execute(f"SELECT {_COLS}, chain_hash FROM readings WHERE device_id = %s ORDER BY time",  # noqa: S608
                    (device_id,))
        rows = ((ChainedReading(*row[:-1]), bytes(row[-1]) if row[-1] is not None else None) for row in cur)
        return verify(device_id, start, rows)
