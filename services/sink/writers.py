"""One write path per table: COPY into a session-local staging table, then one idempotent
``INSERT ... ON CONFLICT DO NOTHING``. Run inside the caller's transaction."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

import psycopg

from schemas.deadletter import DeadLetter
from schemas.reading import Reading

READING_COLUMNS = ("time", "device_id", "shipment_id", "seq", "temp_c", "humidity_pct", "lat", "lon",
                   "speed_kmh", "battery_pct", "source", "received_at")
_READING_COLS = ", ".join(READING_COLUMNS)


class ReadingWriter:
    def prepare(self, conn: psycopg.Connection) -> None:
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS readings_in "
            "(LIKE readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )

    def write(self, conn: psycopg.Connection, readings: Sequence[Reading]) -> int:
        """Returns how many readings were new."""
        if not readings:
            return 0
        with conn.cursor() as cur:
            with cur.copy(f"COPY readings_in ({_READING_COLS}) FROM STDIN") as copy:
                for r in readings:
                    copy.write_row((r.time, r.device_id, r.shipment_id, r.seq, r.temp_c, r.humidity_pct,
                                    r.lat, r.lon, r.speed_kmh, r.battery_pct, r.source, r.received_at))
            cur.execute(
                f"INSERT INTO readings ({_READING_COLS}) SELECT {_READING_COLS} FROM readings_in "  # noqa: S608
                "ON CONFLICT (device_id, time) DO NOTHING"
            )
            inserted = cur.rowcount
            cur.execute("TRUNCATE readings_in")
        return inserted


class DeadLetterWriter:
    def prepare(self, conn: psycopg.Connection) -> None:
        pass

    def write(self, conn: psycopg.Connection, letters: Sequence[DeadLetter]) -> int:
        if not letters:
            return 0
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO dead_letters (id, received_at, mqtt_topic, device_id, reason, errors, payload) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                [(d.id, d.received_at, d.mqtt_topic, _topic_device(d.mqtt_topic), d.reason,
                  json.dumps([e.model_dump() for e in d.errors]), base64.b64decode(d.payload_b64))
                 for d in letters],
            )
            return cur.rowcount


def _topic_device(topic: str) -> str | None:
    parts = topic.split("/")
    return parts[3] if len(parts) > 3 else None
