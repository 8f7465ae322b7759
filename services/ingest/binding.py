"""Device -> shipment binding, cached in memory and refreshed from the registry.

The registry notifies ``coldchain_bindings`` on every change (a trigger), so a shipment
registered a moment ago is known before its first reading arrives. A tracker can be reused
across shipments: a reading belongs to the latest shipment packed at or before its time.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import defaultdict
from datetime import datetime

import psycopg

log = logging.getLogger(__name__)


class BindingTable:
    """Pure lookup structure; the cache below fills it."""

    def __init__(self) -> None:
        self._by_device: dict[str, list[tuple[datetime, str]]] = {}

    def replace(self, rows: list[tuple[str, datetime, str]]) -> None:
        grouped: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        for device_id, packed_at, shipment_id in rows:
            grouped[device_id].append((packed_at, shipment_id))
        self._by_device = {device: sorted(bound) for device, bound in grouped.items()}

    def set_device(self, device_id: str, bound: list[tuple[datetime, str]]) -> None:
        self._by_device = {**self._by_device, device_id: sorted(bound)}

    def shipment_for(self, device_id: str, at: datetime) -> str | None:
        bound = self._by_device.get(device_id)
        if not bound:
            return None
        index = bisect.bisect_right(bound, (at, "\uffff")) - 1
        # A reading taken before packing still belongs to the first shipment (pre-cooling).
        return bound[max(index, 0)][1]


class BindingCache:
    """Keeps a BindingTable current: full load at start, per-device reload on NOTIFY."""

    def __init__(self, dsn: str, refresh_s: float) -> None:
        self.dsn = dsn
        self.refresh_s = refresh_s
        self.table = BindingTable()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with psycopg.connect(self.dsn) as conn:
            self._load_all(conn)
        self._thread = threading.Thread(target=self._listen_forever, name="binding-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def shipment_for(self, device_id: str, at: datetime) -> str | None:
        return self.table.shipment_for(device_id, at)

    def _load_all(self, conn: psycopg.Connection) -> None:
        rows = conn.execute("SELECT device_id, packed_at, shipment_id FROM shipment_devices").fetchall()
        self.table.replace(rows)

    def _load_device(self, conn: psycopg.Connection, device_id: str) -> None:
        rows = conn.execute(
            "SELECT packed_at, shipment_id FROM shipment_devices WHERE device_id = %s", (device_id,)
        ).fetchall()
        self.table.set_device(device_id, [(r[0], r[1]) for r in rows])

    def _listen_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as exc:
                log.warning("binding listener lost the database (%s); retrying", exc)
                self._stop.wait(2.0)

    def _listen(self) -> None:
        # notifies() holds its connection while it waits: queries go through a second one.
        with psycopg.connect(self.dsn, autocommit=True) as listener, \
                psycopg.connect(self.dsn, autocommit=True) as conn:
            listener.execute("LISTEN coldchain_bindings")
            self._load_all(conn)  # catch up with what changed while not listening
            while not self._stop.is_set():
                notes = list(listener.notifies(timeout=self.refresh_s, stop_after=1))
                for note in notes:
                    self._load_device(conn, note.payload)
                if not notes:
                    self._load_all(conn)  # idle: a periodic full refresh, belt and braces
