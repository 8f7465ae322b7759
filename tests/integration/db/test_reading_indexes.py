"""The readings carry only the indexes their queries use (issue 22): every stored reading
pays for each index entry, and a landing burst stores millions. Their chain hashes are a
column of theirs, not a second table with its own index."""

from __future__ import annotations

import psycopg


def _index_columns(db: psycopg.Connection, table: str) -> dict[str, str]:
    rows = db.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = %s",
                      (table,)).fetchall()
    return {name: definition.split(" USING ", 1)[1] for name, definition in rows}


def test_readings_are_indexed_by_device_and_by_shipment_not_by_time_alone(db: psycopg.Connection) -> None:
    assert _index_columns(db, "readings") == {
        "readings_device_time": "btree (device_id, \"time\")",
        "readings_shipment_time": "btree (shipment_id, \"time\" DESC) WHERE (shipment_id IS NOT NULL)",
    }
    assert db.execute("SELECT to_regclass('reading_chain')").fetchone() == (None,)


def test_a_chunk_has_no_time_only_index_either(db: psycopg.Connection) -> None:
    # Indexes dropped on a hypertable are dropped on its chunks: a chunk made before the
    # migration must not keep paying for one.
    with db.transaction(force_rollback=True):
        db.execute("INSERT INTO readings (time, device_id, received_at) VALUES (now(), 'IDX-PROBE', now())"
                   " ON CONFLICT DO NOTHING")
        chunk_indexes = db.execute(
            "SELECT c.hypertable_name, i.indexdef FROM timescaledb_information.chunks c"
            " JOIN pg_indexes i ON i.schemaname = c.chunk_schema AND i.tablename = c.chunk_name"
            " WHERE c.hypertable_name = 'readings'").fetchall()
    assert {table for table, _ in chunk_indexes} == {"readings"}
    assert not [d for _, d in chunk_indexes if d.endswith('USING btree ("time" DESC)')]
