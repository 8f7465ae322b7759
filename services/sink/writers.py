"""One write path per table, idempotent, run inside the caller's transaction: readings by
binary COPY of those not stored yet, the others by an upsert or ``ON CONFLICT DO NOTHING``."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg.types.string import BytesBinaryDumper

from schemas.deadletter import DeadLetter
from schemas.eta import EtaUpdate
from schemas.excursion import ExcursionEvent
from schemas.reading import ReadingBatch
from schemas.reading_wire import ReadingRows, row_of
from services.integrity.store import ChainWriter

READING_COLUMNS = ("time", "device_id", "shipment_id", "seq", "temp_c", "humidity_pct", "lat", "lon",
                   "speed_kmh", "battery_pct", "source", "received_at")
_STORED_COLS = ", ".join((*READING_COLUMNS, "chain_hash"))


_TIME = itemgetter(0)

# Binary COPY: the server parses no text, and psycopg packs each row in C.
STORED_TYPES = ("timestamptz", "text", "text", "int8", "float8", "float8", "float8", "float8", "float8", "float8",
                "text", "timestamptz", "bytea")


class ReadingWriter:
    """Readings, each with its hash chain link (services/integrity), in one binary COPY.

    The chain is worked out first, under each device's lock: it tells which readings are
    stored already (a replay after a crash, a tracker sending twice), so only new ones are
    copied in, and each goes in with its hash, written once. Binary COPY keeps every float
    and microsecond as sent: the chain covers exactly what the table holds.
    """

    def __init__(self) -> None:
        self.chain = ChainWriter()

    def prepare(self, conn: psycopg.Connection) -> None:
        # A COPY typed by name takes the dumper registered last for the type's oid: for
        # bytea that is psycopg.dbapi20's Binary dumper, in Python, half the COPY's cost per
        # reading. Registering the bytes dumper again (psycopg swaps in its C version) makes
        # bytea's by-oid dumper that one, for this connection; the bytes written are the same.
        conn.adapters.register_dumper(bytes, BytesBinaryDumper)
        self.chain.prepare(conn)

    def write(self, conn: psycopg.Connection, batches: Sequence[ReadingRows | ReadingBatch]) -> int:
        """Returns how many readings were new."""
        rows = reading_rows(batches)
        hashes = self.chain.link(conn, rows)
        new = [(*row, digest) for row, digest in zip(rows, hashes, strict=True) if digest is not None]
        if new:
            with conn.cursor() as cur, \
                    cur.copy(f"COPY readings ({_STORED_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(STORED_TYPES)
                for row in new:
                    copy.write_row(row)
        return len(new)


def reading_rows(batches: Sequence[ReadingRows | ReadingBatch]) -> list[tuple[Any, ...]]:
    """The COPY rows (``READING_COLUMNS``) of the batches' readings, the first of each (device,
    time), ordered by device (code point order, as ``COLLATE "C"``), then time: the order the
    chain links them in, and the unique index's, so a device's rows go to the same index pages
    one after another instead of across the whole batch."""
    by_device: dict[str, dict[datetime, tuple[Any, ...]]] = {}
    for batch in batches:  # one device each (ReadingBatch checks it, the decoder too)
        rows = _rows(batch)
        first = by_device.setdefault(rows[0][1], {}).setdefault
        for row in rows:
            first(row[0], row)
    return [row for device in sorted(by_device) for row in sorted(by_device[device].values(), key=_TIME)]


def _rows(batch: ReadingRows | ReadingBatch) -> list[tuple[Any, ...]]:
    # The sink decodes records to rows (ReadingRecord); tools and tests hand in batches.
    return batch.rows if isinstance(batch, ReadingRows) else [row_of(r) for r in batch.readings]


class DeadLetterWriter:
    def prepare(self, conn: psycopg.Connection) -> None:
        pass

    def write(self, conn: psycopg.Connection, letters: Sequence[DeadLetter]) -> int:
        if not letters:
            return 0
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO dead_letters (id, received_at, mqtt_topic, device_id, reason, errors, payload,"
                " stage, payload_size, payload_sha256, errors_omitted) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                [(d.id, d.received_at, d.mqtt_topic, d.device_id or _topic_device(d.mqtt_topic), d.reason,
                  json.dumps([e.model_dump() for e in d.errors]), base64.b64decode(d.payload_b64),
                  d.stage, d.payload_size, d.payload_sha256, d.errors_omitted)
                 for d in letters],
            )
            return cur.rowcount


def _topic_device(topic: str) -> str | None:
    parts = topic.split("/")
    return parts[3] if len(parts) > 3 else None


class ExcursionWriter:
    """Upsert by excursion id; a record only ever moves to a higher revision, so replays and
    out-of-order redeliveries cannot roll an excursion back."""

    def prepare(self, conn: psycopg.Connection) -> None:
        pass

    def write(self, conn: psycopg.Connection, events: Sequence[ExcursionEvent]) -> int:
        latest: dict[str, ExcursionEvent] = {}
        for event in events:
            if event.id not in latest or latest[event.id].revision < event.revision:
                latest[event.id] = event
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO excursions (id, shipment_id, device_id, kind, severity, status, started_at, ended_at,"
                " duration_min, peak_c, degree_minutes, peak_humidity_pct, humidity_pct_minutes, profile, limits,"
                " revision, last_step, superseded_by, found_late, shipment_mkt_c, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET severity = EXCLUDED.severity, status = EXCLUDED.status,"
                " started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at,"
                " duration_min = EXCLUDED.duration_min, peak_c = EXCLUDED.peak_c,"
                " degree_minutes = EXCLUDED.degree_minutes, peak_humidity_pct = EXCLUDED.peak_humidity_pct,"
                " humidity_pct_minutes = EXCLUDED.humidity_pct_minutes, limits = EXCLUDED.limits,"
                " revision = EXCLUDED.revision, last_step = EXCLUDED.last_step,"
                " superseded_by = EXCLUDED.superseded_by, found_late = EXCLUDED.found_late,"
                " shipment_mkt_c = EXCLUDED.shipment_mkt_c, updated_at = EXCLUDED.updated_at"
                " WHERE excursions.revision < EXCLUDED.revision",
                [(e.id, e.shipment_id, e.device_id, e.kind, e.severity, _status(e), e.started_at, e.ended_at,
                  e.duration_min, e.peak_c, e.degree_minutes, e.peak_humidity_pct, e.humidity_pct_minutes,
                  e.profile, Jsonb(e.limits.model_dump(mode="json")), e.revision, e.step, e.superseded_by,
                  e.found_late, e.shipment_mkt_c, e.event_time) for e in latest.values()],
            )
            return len(latest)


def _status(event: ExcursionEvent) -> str:
    if event.step == "retracted":
        return "retracted"
    return "closed" if event.ended_at is not None else "open"


class EtaWriter:
    def prepare(self, conn: psycopg.Connection) -> None:
        pass

    def write(self, conn: psycopg.Connection, updates: Sequence[EtaUpdate]) -> int:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO eta (time, shipment_id, id, kind, eta, deliver_by, phase, leg_index, leg_name, legs,"
                " remaining_km, temp_c, viability_used_h, viability_remaining_at_eta_h, viability_ends_at,"
                " viability_state, viability_lost_at, viability_lost_reason,"
                " at_risk, risk_reasons, risk_episode_id)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [(u.event_time, u.shipment_id, u.id, u.kind, u.eta, u.deliver_by, u.phase, u.leg_index,
                  u.leg_name, Jsonb([leg.model_dump(mode="json") for leg in u.legs]), u.remaining_km, u.temp_c,
                  u.viability_used_h, u.viability_remaining_at_eta_h, u.viability_ends_at,
                  u.viability_state, u.viability_lost_at, u.viability_lost_reason, u.at_risk,
                  list(u.risk_reasons), u.risk_episode_id) for u in updates],
            )
            return len(updates)
