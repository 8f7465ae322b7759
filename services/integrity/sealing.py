"""Sealing a shipment's history once it is over (pure rule, and its one store step).

A shipment is sealed ``SEAL_GRACE`` after the first of: the ETA processor saw it delivered,
it was cancelled, its ``deliver_by``. The grace leaves time for the last backlog to land (a
tracker uploads what it logged when it next has a network). Sealing records, per device, the
time of its last reading in the shipment and the chain hash there (``shipment_seals``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

SEAL_GRACE = timedelta(hours=72)


@dataclass(frozen=True)
class Ended:
    shipment_id: str
    deliver_by: datetime
    delivered_at: datetime | None
    cancelled_at: datetime | None

    def ended_at(self) -> datetime:
        return min(t for t in (self.delivered_at, self.cancelled_at, self.deliver_by) if t is not None)


def due(shipments: list[Ended], now: datetime, grace: timedelta = SEAL_GRACE) -> list[str]:
    """The shipments whose history is to be sealed now."""
    return [s.shipment_id for s in shipments if s.ended_at() + grace <= now]


_CANDIDATES = """
SELECT s.id, s.deliver_by,
       (SELECT min(time) FROM eta WHERE shipment_id = s.id AND phase = 'delivered'),
       (s.body ->> 'cancelled_at')::timestamptz
FROM shipments s
WHERE s.sealed_at IS NULL AND s.packed_at < %s
"""

_HEADS = """
SELECT d.device_id, last.time, last.chain_hash
FROM shipment_devices d
LEFT JOIN LATERAL (SELECT time, chain_hash FROM readings r
                   WHERE r.shipment_id = d.shipment_id AND r.device_id = d.device_id
                   ORDER BY time DESC LIMIT 1) last ON true
WHERE d.shipment_id = %s
"""


def seal_due(conn: psycopg.Connection, now: datetime, grace: timedelta = SEAL_GRACE,
             only: list[str] | None = None) -> list[str]:
    """Seals every shipment due (or those of ``only`` that are); returns their ids. Each in its
    own transaction (audited)."""
    rows = [row for row in conn.execute(_CANDIDATES, (now,)).fetchall() if only is None or row[0] in only]
    sealed = []
    for shipment_id in due([Ended(*row) for row in rows], now, grace):
        with conn.transaction():
            conn.execute("SELECT set_config('coldchain.actor', 'retention:seal', true)")
            heads = conn.execute(_HEADS, (shipment_id,)).fetchall()
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO shipment_seals (shipment_id, device_id, sealed_at, last_time, head)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [(shipment_id, device, now, last, head) for device, last, head in heads])
            conn.execute("UPDATE shipments SET sealed_at = %s WHERE id = %s", (now, shipment_id))
            conn.execute("UPDATE shipment_devices SET sealed_at = %s WHERE shipment_id = %s", (now, shipment_id))
        sealed.append(shipment_id)
    return sealed


def seals(conn: psycopg.Connection, shipment_id: str) -> dict[str, tuple[datetime | None, bytes | None]]:
    """Per device of a sealed shipment: its last reading's time and the chain hash there."""
    return {device: (last, bytes(head) if head is not None else None) for device, last, head in conn.execute(
        "SELECT device_id, last_time, head FROM shipment_seals WHERE shipment_id = %s", (shipment_id,))}


def seal_breaks(conn: psycopg.Connection, shipment_id: str) -> list[str]:
    """What changed in a sealed shipment since its seal: a device whose chain hash at the
    shipment's last sealed reading differs (something was linked in before it), or that has
    readings of the shipment after that one. Empty when intact or not sealed."""
    found = []
    for device, (last, head) in seals(conn, shipment_id).items():
        now_last = conn.execute("SELECT max(time) FROM readings WHERE shipment_id = %s AND device_id = %s",
                                (shipment_id, device)).fetchone()
        if (now_last[0] if now_last else None) != last:
            found.append(f"{device}: readings were added to the sealed shipment after its seal "
                         f"(last sealed reading {last}, now {now_last[0] if now_last else None})")
            continue
        if last is None:
            continue
        stored = conn.execute("SELECT chain_hash FROM readings WHERE device_id = %s AND time = %s",
                              (device, last)).fetchone()
        if stored is None or stored[0] is None or bytes(stored[0]) != head:
            found.append(f"{device}: the chain at the last sealed reading ({last.isoformat()}) is not the one "
                         "recorded at sealing: readings were linked into the sealed history")
    return found
