"""Retention on the real TimescaleDB: old chunks of readings and their chain dropped, the
chain of what survives still verifiable from the recorded anchor."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import psycopg

from schemas.reading import Reading, ReadingBatch
from services.integrity.store import verify_device
from services.retention.policy import RetentionPlan
from services.retention.store import apply, timescale_license
from services.sink.writers import ReadingWriter

# Far from any other test's data: dropping these days touches nothing else.
START = datetime(2001, 1, 1, tzinfo=UTC)
CUTOFF = datetime(2001, 1, 3, tzinfo=UTC)


def write(database_url: str, device_id: str, hours: Iterable[float]) -> None:
    writer = ReadingWriter()
    with psycopg.connect(database_url) as conn:
        writer.prepare(conn)
        with conn.transaction():
            writer.write(conn, [ReadingBatch(readings=[
                Reading(device_id=device_id, time=START + timedelta(hours=h), temp_c=3 + h / 100, received_at=START)
                for h in hours])])


def test_old_chunks_go_and_the_rest_still_verifies(service_dsn, db, unique):
    # as the services do it: the sink's role writes, the retention service's role drops
    sink = service_dsn("sink")
    device_id = unique("TRK")
    write(sink, device_id, range(0, 96))  # four days, hourly
    assert timescale_license(db) in ("apache", "timescale")

    with psycopg.connect(service_dsn("retention"), autocommit=True) as retention:
        done = apply(retention, RetentionPlan(drop_before=CUTOFF, compress_before=None))
    assert done["readings dropped"] >= 2

    left = db.execute("SELECT min(time), count(*) FROM readings WHERE device_id = %s", (device_id,)).fetchone()
    assert left == (CUTOFF, 48)
    anchor = db.execute("SELECT time FROM reading_chain_anchors WHERE device_id = %s", (device_id,)).fetchone()
    assert anchor == (CUTOFF - timedelta(hours=1),)
    verdict = verify_device(db, device_id)
    assert verdict.intact and verdict.checked == 48

    # New and late readings among the survivors still chain on from the anchor.
    write(sink, device_id, [100.0])
    write(sink, device_id, [48.5])
    verdict = verify_device(db, device_id)
    assert verdict.intact and verdict.checked == 50
    logged = db.execute("SELECT count(*) FROM audit_log WHERE action = 'drop-chunks' AND row_key = %s",
                        (CUTOFF.isoformat(),)).fetchone()
    assert logged is not None and logged[0] >= 1
