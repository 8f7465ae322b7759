"""Device -> shipment binding, cached in memory and refreshed from the registry.

The registry notifies ``coldchain_bindings`` on every change (a trigger), so a shipment
registered a moment ago is known before its first reading arrives. A tracker can be reused
across shipments: a reading belongs to the latest shipment packed at or before its time.

A reading taken before the device's first shipment was packed still belongs to that shipment
(pre-cooling). A reading is refused (and kept as a dead letter with the reason) when its time
falls into a sealed shipment, or before one (services/integrity/sealing.py): the device's hash
chain runs through every shipment, so a reading linked in there would change a sealed history.
A tracker reused by another party cannot write into a finished one.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import psycopg

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Binding:
    shipment_id: str | None = None  # None: the device is bound to no shipment (kept unbound)
    refusal: str | None = None  # why the reading may not be stored, when it may not
    rule: str | None = None  # the refusal's machine-readable name


Bound = tuple[datetime, str, datetime | None]  # packed_at, shipment id, sealed_at
_UNBOUND = Binding()


class _DeviceBindings:
    """One device's shipments by packing time, each with the answer for a reading that falls
    into it, worked out on the device's first reading and kept: ``bind`` runs for every
    reading (a landed backlog is millions), a full reload for every device at once."""

    __slots__ = ("_bound", "_keys", "_answers")

    def __init__(self, bound: list[Bound]) -> None:
        self._bound = bound
        self._keys: list[tuple[datetime, str]] | None = None
        self._answers: list[Binding] = []

    def answer(self, at: datetime) -> Binding:
        keys = self._keys
        if keys is None:
            ordered = sorted(self._bound, key=_order)
            # Answers first, keys last: another thread asking meanwhile works them out again.
            self._answers = [_answer(ordered, index) for index in range(len(ordered))]
            self._keys = keys = [_order(b) for b in ordered]
        if len(keys) == 1:  # most trackers: one shipment, whatever the time
            return self._answers[0]
        index = bisect.bisect_right(keys, (at, "\uffff")) - 1
        return self._answers[max(index, 0)]


class BindingTable:
    """Pure lookup structure; the cache below fills it. Read by ingest's threads while the
    cache's thread writes: a write swaps one dict entry, or the whole dict, never edits one."""

    def __init__(self) -> None:
        self._by_device: dict[str, _DeviceBindings] = {}

    def replace(self, rows: list[tuple[str, datetime, str, datetime | None]]) -> None:
        grouped: dict[str, list[Bound]] = defaultdict(list)
        for device_id, packed_at, shipment_id, sealed_at in rows:
            grouped[device_id].append((packed_at, shipment_id, sealed_at))
        self._by_device = {device: _DeviceBindings(bound) for device, bound in grouped.items()}

    def set_device(self, device_id: str, bound: list[Bound]) -> None:
        # In place (one entry, atomic for readers): copying the table for every registered
        # tracker made registering thousands of them quadratic.
        if bound:
            self._by_device[device_id] = _DeviceBindings(bound)
        else:
            self._by_device.pop(device_id, None)

    def bind(self, device_id: str, at: datetime) -> Binding:
        device = self._by_device.get(device_id)
        return _UNBOUND if device is None else device.answer(at)


def _answer(bound: list[Bound], index: int) -> Binding:
    """Where a reading goes that falls into ``bound[index]`` (or before the first shipment)."""
    _, shipment_id, sealed_at = bound[index]
    if sealed_at is not None:
        return Binding(refusal=f"falls into shipment {shipment_id}, sealed at {sealed_at.isoformat()}",
                       rule="shipment_sealed")
    later = next(((s, sealed) for _, s, sealed in bound[index + 1:] if sealed is not None), None)
    if later is not None:
        return Binding(refusal=f"is older than shipment {later[0]} of this device, sealed at "
                               f"{later[1].isoformat()}", rule="shipment_sealed")
    return Binding(shipment_id=shipment_id)


def _order(bound: Bound) -> tuple[datetime, str]:
    return bound[0], bound[1]


class BindingCache:
    """Keeps a BindingTable current: full load at start, per-device reload on NOTIFY."""

    def __init__(self, dsn: str, refresh_s: float) -> None:
        self.dsn = dsn
        self.refresh_s = refresh_s
        self.table = BindingTable()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # Listening and loaded before ingest subscribes: a shipment registered after a load
        # but before LISTEN would be missed until the next full refresh, and its first
        # readings stored unbound (seen when a second ingest started as a shipment arrived).
        connections = self._open()
        self._thread = threading.Thread(target=self._listen_forever, args=(connections,), name="binding-listener",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def bind(self, device_id: str, at: datetime) -> Binding:
        return self.table.bind(device_id, at)

    def _load_all(self, conn: psycopg.Connection) -> None:
        rows = conn.execute("SELECT device_id, packed_at, shipment_id, sealed_at FROM shipment_devices").fetchall()
        self.table.replace(rows)

    def _load_device(self, conn: psycopg.Connection, device_id: str) -> None:
        rows = conn.execute(
            "SELECT packed_at, shipment_id, sealed_at FROM shipment_devices WHERE device_id = %s", (device_id,)
        ).fetchall()
        self.table.set_device(device_id, [(r[0], r[1], r[2]) for r in rows])

    def _open(self) -> tuple[psycopg.Connection, psycopg.Connection]:
        """A listening connection and a query connection (notifies() holds its connection while
        it waits), with the table loaded after LISTEN: nothing changed since goes unheard."""
        listener = psycopg.connect(self.dsn, autocommit=True)
        try:
            conn = psycopg.connect(self.dsn, autocommit=True)
        except BaseException:
            listener.close()
            raise
        listener.execute("LISTEN coldchain_bindings")
        self._load_all(conn)
        return listener, conn

    def _listen_forever(self, connections: tuple[psycopg.Connection, psycopg.Connection] | None) -> None:
        while not self._stop.is_set():
            try:
                if connections is None:
                    connections = self._open()
                self._listen(*connections)
            except psycopg.Error as exc:
                log.warning("binding listener lost the database (%s); retrying", exc)
                self._stop.wait(2.0)
            finally:
                for connection in connections or ():
                    connection.close()
                connections = None

    def _listen(self, listener: psycopg.Connection, conn: psycopg.Connection) -> None:
        while not self._stop.is_set():
            notes = list(listener.notifies(timeout=self.refresh_s, stop_after=1))
            for note in notes:
                self._load_device(conn, note.payload)
            if not notes:
                self._load_all(conn)  # idle: a periodic full refresh, belt and braces
