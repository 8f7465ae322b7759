"""Ingest's device bindings on the real database: the cache is listening for changes by the
time ``start()`` returns (ingest subscribes right after), and a shipment registered then is
bound at once, not at the next full refresh."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg

from services.registry.bindings import BindingCache
from tests.integration.conftest import Pipeline, shipment_body


def _listeners_since(db: psycopg.Connection, since: datetime) -> int:
    row = db.execute("SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN coldchain_bindings'"
                     " AND backend_start >= %s", (since,)).fetchone()
    return int(row[0]) if row else 0


def test_the_cache_listens_before_start_returns_and_binds_a_new_shipment_at_once(
        pipeline: Pipeline, db: psycopg.Connection, service_dsn: Callable[[str], str],
        unique: Callable[[str], str]) -> None:
    began = db.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    cache = BindingCache(service_dsn("ingest"), refresh_s=3600)  # no full refresh within the test
    cache.start()
    try:
        assert _listeners_since(db, began) == 1
        device, shipment_id = unique("TRK-BIND"), unique("SHP-BIND")
        with pipeline.http() as http:
            assert http.post("/api/v1/shipments", json=shipment_body(shipment_id, [device])).status_code == 201
        at = datetime.now(UTC) + timedelta(minutes=1)
        deadline = time.monotonic() + 10
        while cache.bind(device, at).shipment_id != shipment_id and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cache.bind(device, at).shipment_id == shipment_id
    finally:
        cache.stop()
