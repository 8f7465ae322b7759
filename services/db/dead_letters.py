"""The queries that list and count dead letters, for the API and ``coldchain dlq``."""

from __future__ import annotations

from datetime import datetime

COLUMNS = ("id, received_at, stage, mqtt_topic, device_id, reason, errors, errors_omitted,"
           " payload_size, payload_sha256")


def _where(device: str | None) -> tuple[str, list[object]]:
    return ("WHERE device_id = %s", [device]) if device else ("", [])


def count_query(device: str | None) -> tuple[str, list[object]]:
    where, params = _where(device)
    return f"SELECT count(*) FROM dead_letters {where}", params  # noqa: S608


def list_query(device: str | None, limit: int, after: tuple[datetime, str] | None = None) -> tuple[str, list[object]]:
    """Newest first, by ``(received_at, id)``; ``after``: the key of the last one already seen."""
    where, params = _where(device)
    if after is not None:
        where += (" AND" if where else "WHERE") + " (received_at, id) < (%s, %s)"
        params += list(after)
    sql = f"SELECT {COLUMNS} FROM dead_letters {where} ORDER BY received_at DESC, id DESC LIMIT %s"  # noqa: S608
    return sql, [*params, limit]
