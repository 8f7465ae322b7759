"""The hash chain on the real TimescaleDB: extended by the sink's reading writer per batch,
re-linked by late readings, and checked by `coldchain verify` after a plain-SQL change."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from schemas.reading import Reading, ReadingBatch
from services.integrity import chain as chain_module
from services.integrity.chain import CHAINED_COLUMNS, ChainedReading, extend, genesis
from services.integrity.store import logged_breaks, verify_device
from services.sink.writers import ReadingWriter

START = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)


def readings(device_id: str, shipment_id: str, minutes: range) -> list[Reading]:
    return [Reading(device_id=device_id, shipment_id=shipment_id, time=START + timedelta(minutes=m), seq=m,
                    temp_c=2.0 + (m % 7) / 10, humidity_pct=90.0, received_at=START) for m in minutes]


def write(database_url: str, batch: list[Reading]) -> int:
    writer = ReadingWriter()
    with psycopg.connect(database_url) as conn:
        writer.prepare(conn)
        with conn.transaction():
            # One record per reading: a batch may mix devices, as the sink's consumed batches do.
            return writer.write(conn, [ReadingBatch(readings=[reading]) for reading in batch])


def stored_chain(db: psycopg.Connection, device_id: str) -> list[tuple[datetime, bytes]]:
    return [(t, bytes(h)) for t, h in db.execute(
        "SELECT time, chain_hash FROM readings WHERE device_id = %s ORDER BY time", (device_id,))]


def expected_chain(db: psycopg.Connection, device_id: str) -> list[tuple[datetime, bytes]]:
    rows = db.execute(f"SELECT {', '.join(CHAINED_COLUMNS)} FROM readings WHERE device_id = %s"  # noqa: S608
                      " ORDER BY time", (device_id,)).fetchall()
    return [(r.time, h) for r, h in extend(genesis(device_id), (ChainedReading(*row) for row in rows))]


def run_verify(database_url: str, shipment_id: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLDCHAIN_DATABASE_URL": database_url, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "services.cli", "verify", shipment_id], capture_output=True,
                          text=True, timeout=60, env=env, check=False)


def test_batches_and_a_late_reading_keep_the_chain_equal_to_a_recomputation(database_url, db, unique):
    device_id, shipment_id = unique("TRK"), unique("SHP")
    assert write(database_url, readings(device_id, shipment_id, range(0, 100, 2))) == 50
    assert write(database_url, readings(device_id, shipment_id, range(100, 150))) == 50
    # A redelivered batch is stored once and changes no link.
    before = stored_chain(db, device_id)
    assert write(database_url, readings(device_id, shipment_id, range(100, 150))) == 0
    assert stored_chain(db, device_id) == before
    # One overlapping the stored ones and going on: only the new ones go in, after them.
    assert write(database_url, readings(device_id, shipment_id, range(140, 160))) == 10
    assert stored_chain(db, device_id)[:100] == before
    before = stored_chain(db, device_id)
    # Late readings (odd minutes, long ago) re-link everything after them.
    assert write(database_url, readings(device_id, shipment_id, range(1, 100, 2))) == 50
    after = stored_chain(db, device_id)
    assert len(after) == 160
    assert after == expected_chain(db, device_id)
    assert after[:1] == before[:1] and after[-1] != before[-1]
    verdict = verify_device(db, device_id)
    assert verdict.intact and verdict.checked == 160 and verdict.head == after[-1][1]


def test_verify_names_the_one_temperature_changed_with_plain_sql(database_url, db, unique):
    device_id, shipment_id = unique("TRK"), unique("SHP")
    write(database_url, readings(device_id, shipment_id, range(0, 300)))
    intact = run_verify(database_url, shipment_id)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert f"intact {device_id}: 300 readings" in intact.stdout

    changed_at = START + timedelta(minutes=137)
    db.execute("UPDATE readings SET temp_c = 3.9 WHERE device_id = %s AND time = %s", (device_id, changed_at))

    found = run_verify(database_url, shipment_id)
    assert found.returncode == 1, found.stdout + found.stderr
    assert f"TAMPERED {device_id}: reading {device_id} at {changed_at.isoformat()} differs" in found.stdout
    assert "temp_c=3.9" in found.stdout


def test_a_late_reading_does_not_launder_an_earlier_change(database_url, db, unique):
    device_id, shipment_id = unique("TRK"), unique("SHP")
    write(database_url, readings(device_id, shipment_id, range(0, 60, 2)))
    changed_at = START + timedelta(minutes=40)
    db.execute("UPDATE readings SET temp_c = -5 WHERE device_id = %s AND time = %s", (device_id, changed_at))
    # The late reading re-links minutes 11..58, the changed one among them.
    write(database_url, readings(device_id, shipment_id, range(11, 12)))
    assert verify_device(db, device_id).intact  # the links alone now agree again...
    found = run_verify(database_url, shipment_id)  # ...but the sink logged what it saw
    assert found.returncode == 1, found.stdout
    assert f"{device_id}@{changed_at.isoformat()}" in found.stdout


def test_deleted_and_smuggled_readings_are_named(database_url, db, unique):
    device_id, shipment_id = unique("TRK"), unique("SHP")
    write(database_url, readings(device_id, shipment_id, range(0, 20)))
    db.execute("DELETE FROM readings WHERE device_id = %s AND time = %s", (device_id, START + timedelta(minutes=5)))
    verdict = verify_device(db, device_id)
    # Each hash covers the reading before it: the chain breaks at the next one.
    assert verdict.first_break is not None and verdict.first_break.reason == "changed"
    assert verdict.first_break.time == START + timedelta(minutes=6) and verdict.checked == 5
    assert "or the reading before it was deleted" in verdict.first_break.describe()

    other = unique("TRK2")
    write(database_url, readings(other, shipment_id, range(1, 5)))
    db.execute("INSERT INTO readings (time, device_id, shipment_id, temp_c, received_at) VALUES (%s, %s, %s, 1, %s)",
               (START + timedelta(seconds=90), other, shipment_id, START))
    verdict = verify_device(db, other)
    assert verdict.first_break is not None and verdict.first_break.reason == "missing-hash"
    assert verdict.checked == 1
    # A late reading before it makes the sink re-link it: the smuggled one is linked too, and
    # the sink logs that it found it.
    write(database_url, readings(other, shipment_id, range(1, 2)))  # stored already: no re-link
    assert not logged_breaks(db, other)
    write(database_url, readings(other, shipment_id, range(0, 1)))
    assert verify_device(db, other).intact
    [(_, key, description)] = logged_breaks(db, other)
    assert key == f"{other}@{(START + timedelta(seconds=90)).isoformat()}" and "not in the hash chain" in description


def test_unknown_shipment_is_a_clear_error(database_url, unique):
    result = run_verify(database_url, unique("NOPE"))
    assert result.returncode == 2
    assert "no shipment" in result.stderr


def test_the_documented_sql_recomputes_the_stored_chain(database_url, db, unique):
    """README "Auditors": an auditor's own recomputation, in plain SQL, agrees with the sink."""
    device_id, shipment_id = unique("TRK"), unique("SHP")
    batch = readings(device_id, shipment_id, range(0, 40))
    batch.append(Reading(device_id=device_id, time=START - timedelta(seconds=1.5), received_at=START, lat=44.5,
                         lon=-63.25, speed_kmh=0.0, battery_pct=77.0))  # NULLs and a late, fractional second
    write(database_url, batch)
    sql = (Path(chain_module.__file__).parent / "recompute_chain.sql").read_text().replace(":'device'", "%(device)s")
    rows = db.execute(sql.encode(), {"device": device_id}).fetchall()
    assert [(t, bytes.fromhex(h)) for t, h, _ in rows] == stored_chain(db, device_id)
    assert {verdict for _, _, verdict in rows} == {"same"}
    db.execute("UPDATE readings SET humidity_pct = 90.5 WHERE device_id = %s AND time = %s",
               (device_id, START + timedelta(minutes=7)))
    verdicts = [v for _, _, v in db.execute(sql.encode(), {"device": device_id}).fetchall()]
    assert verdicts.index("DIFFERS") == 8


def test_two_connections_extending_one_device_at_once_keep_one_chain(database_url, db, unique):
    """The sink writes a batch's partitions on several connections at once (services/sink/store.py);
    a tracker moved to another shipment has readings in two partitions, so two connections may
    extend its chain together, late readings and all. They take turns on the device's lock: the
    stored chain is the recomputation of every stored reading."""
    device_id, shipment_id = unique("TRK"), unique("SHP")
    errors: list[BaseException] = []

    def lane(minutes: range) -> None:
        try:
            for first in range(minutes.start, minutes.stop, 20):
                write(database_url, readings(device_id, shipment_id, range(first, first + 20, 2)))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=lane, args=(range(0, 400),)),  # even minutes
               threading.Thread(target=lane, args=(range(1, 401),))]  # odd ones: each batch late for the other
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    chain = stored_chain(db, device_id)
    assert len(chain) == 400
    assert chain == expected_chain(db, device_id)
    assert verify_device(db, device_id).intact
