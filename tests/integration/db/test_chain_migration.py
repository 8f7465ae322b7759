"""Migration 0800 on a database made before it: the chain links of reading_chain become the
readings' own chain hashes, and a link whose reading was deleted is kept as evidence."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg.sql import SQL, Identifier

from services.integrity.chain import ChainedReading, extend, genesis
from services.integrity.store import logged_breaks, verify_device

START = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)


def _migrations(before: bool) -> str:
    folder = resources.files("services.db") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return "\n".join(f.read_text() for f in files if (f.name < "0800") == before)


@pytest.fixture
def old_database(database_url: str) -> Iterator[str]:
    """A private schema with every migration before 0800; yields its conninfo."""
    schema = Identifier(f"chain_mig_{uuid.uuid4().hex[:10]}")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SQL("CREATE SCHEMA {}").format(schema))
        conn.execute(SQL("SET search_path TO {}, public").format(schema))
        conn.execute(_migrations(before=True).encode())
    try:
        yield make_conninfo(database_url, options=f"-c search_path={schema.as_string(None)},public")
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(SQL("DROP SCHEMA {} CASCADE").format(schema))


def test_links_move_into_readings_and_a_deleted_readings_link_is_kept(old_database: str) -> None:
    device = "TRK-MIG"
    readings = [ChainedReading(START + timedelta(minutes=m), device, "SHP-MIG", m, 2.0 + m / 10, 90.0, None, None,
                               None, None) for m in range(10)]
    links = list(extend(genesis(device), readings))
    with psycopg.connect(old_database, autocommit=True) as conn:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO readings (time, device_id, shipment_id, seq, temp_c, humidity_pct,"
                            " received_at) VALUES (%s, %s, %s, %s, %s, %s, now())",
                            [(r.time, r.device_id, r.shipment_id, r.seq, r.temp_c, r.humidity_pct)
                             for r in readings[:9]])  # the last one was deleted around the sink
            cur.executemany("INSERT INTO reading_chain (device_id, time, hash) VALUES (%s, %s, %s)",
                            [(device, r.time, h) for r, h in links])
        conn.execute(_migrations(before=False).encode())

        stored = conn.execute("SELECT time, chain_hash FROM readings WHERE device_id = %s ORDER BY time",
                              (device,)).fetchall()
        assert stored == [(r.time, h) for r, h in links[:9]]
        assert conn.execute("SELECT to_regclass('reading_chain')").fetchone() == (None,)
        verdict = verify_device(conn, device)
        assert verdict.intact and verdict.checked == 9 and verdict.head == links[8][1]
        [(_, key, description)] = logged_breaks(conn, device)
        assert key.startswith(f"{device}@2026-11-09T18:09:00")
        assert "missing from readings (deleted?)" in description
        # retention's function names the tables that are left (tests/integration/retention runs it)
        [(body,)] = conn.execute("SELECT prosrc FROM pg_proc WHERE proname = 'coldchain_drop_chunks'"
                                 " AND pronamespace = current_schema()::regnamespace").fetchall()
        assert "'readings'::regclass" in body and "reading_chain" not in body
