"""Applies a RetentionPlan to TimescaleDB (psycopg): anchors the hash chains, drops old chunks
with ``drop_chunks``, compresses with ``compress_chunk`` where licensed, and logs each run in
the audit log."""

from __future__ import annotations

import logging
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from services.retention.policy import RETAINED_TABLES, RetentionPlan

log = logging.getLogger(__name__)


def timescale_license(conn: psycopg.Connection) -> str:
    row = conn.execute("SHOW timescaledb.license").fetchone()
    return str(row[0]) if row else "apache"


def apply(conn: psycopg.Connection, plan: RetentionPlan) -> dict[str, int]:
    """Returns the chunks dropped (and compressed) per table."""
    done: dict[str, int] = {}
    with conn.transaction():
        if plan.drop_before is not None:
            done.update(_drop(conn, plan.drop_before))
        if plan.compress_before is not None:
            done.update(_compress(conn, plan.compress_before))
    return done


def _drop(conn: psycopg.Connection, before: datetime) -> dict[str, int]:
    # drop_chunks removes whole chunks ending at or before `before`; the chain of each device
    # must continue from the last link dropped, so record it first (README "Auditors").
    row = conn.execute("SELECT max(range_end) FROM timescaledb_information.chunks"
                       " WHERE hypertable_name = 'readings' AND range_end <= %s", (before,)).fetchone()
    boundary = row[0] if row else None
    if boundary is not None:
        conn.execute(
            "INSERT INTO reading_chain_anchors (device_id, time, hash)"
            " SELECT DISTINCT ON (device_id) device_id, time, chain_hash FROM readings"
            " WHERE time < %s AND chain_hash IS NOT NULL"
            " ORDER BY device_id, time DESC"
            " ON CONFLICT (device_id) DO UPDATE SET time = EXCLUDED.time, hash = EXCLUDED.hash, dropped_at = now()"
            " WHERE reading_chain_anchors.time < EXCLUDED.time", (boundary,))
    dropped: dict[str, int] = {}
    for table in RETAINED_TABLES:
        # drop_chunks needs the owner: its function does it for the retained tables (0700)
        chunks = conn.execute("SELECT coldchain_drop_chunks(%s::regclass, %s)", (table, before)).fetchone()
        dropped[f"{table} dropped"] = int(chunks[0]) if chunks else 0
    if any(dropped.values()):
        conn.execute("INSERT INTO audit_log (actor, action, table_name, row_key, new)"
                     " VALUES ('retention', 'drop-chunks', 'readings', %s, %s)",
                     (before.isoformat(), Jsonb({"older_than": before.isoformat(), **dropped})))
        log.info("retention: dropped chunks before %s: %s", before.isoformat(), dropped)
    return dropped


def _compress(conn: psycopg.Connection, before: datetime) -> dict[str, int]:
    # segmented by device, ordered by time; as the owner (0700_service_roles.sql)
    row = conn.execute("SELECT coldchain_compress_readings(%s)", (before,)).fetchone()
    return {"readings compressed": int(row[0]) if row else 0}
