"""The database adapter of reports: fills a ShipmentReport from TimescaleDB (psycopg, async)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from schemas.shipment import Place, Shipment
from services.registry.limits import ProfileCatalog, limits_of
from services.reports.model import (
    AlertRow,
    DeliveryRow,
    DeviceSeries,
    ExcursionRow,
    LegRow,
    ShipmentReport,
    ViabilityRow,
)
from services.reports.statistics import Sample


async def load_report(conn: AsyncConnection[Any], shipment: Shipment, profiles: ProfileCatalog,
                      now: datetime) -> ShipmentReport:
    devices = await _device_series(conn, shipment.id)
    etas = await _etas(conn, shipment.id)
    return ShipmentReport(
        shipment_id=shipment.id, product=shipment.product, seller=shipment.seller, buyer=shipment.buyer,
        stops=(shipment.origin.name, *(w.name for w in shipment.waypoints), shipment.destination.name),
        legs=_legs(shipment, etas[-1] if etas else None),
        packed_at=shipment.packed_at, deliver_by=shipment.deliver_by,
        first_eta=etas[0]["eta"] if etas else None, last_eta=etas[-1]["eta"] if etas else None,
        actual_arrival=next((e["eta"] for e in etas if e["phase"] == "delivered"), None),
        limits=limits_of(shipment, profiles),  # what the dashboard shows and the processor judges by
        devices=tuple(devices),
        excursions=await _excursions(conn, shipment.id),
        alerts=await _alerts(conn, shipment.id),
        chain_heads=await _chain_heads(conn, [d.device_id for d in devices] or list(shipment.devices)),
        generated_at=now,
        viability=_viability(etas),
        places=tuple(Place(name=p.name, lat=p.lat, lon=p.lon)
                     for p in (shipment.origin, *shipment.waypoints, shipment.destination)),
        product_description=_description(shipment, profiles),
        quantity=shipment.quantity,
        reference_documents=tuple(shipment.reference_documents),
    )


def _description(shipment: Shipment, profiles: ProfileCatalog) -> str:
    # Not the default product's words for an unknown product: its own name says more.
    profile = profiles.profiles.get(shipment.product)
    return shipment.product_description or (profile.description if profile else "") or shipment.product


async def _device_series(conn: AsyncConnection[Any], shipment_id: str) -> list[DeviceSeries]:
    temps: dict[str, list[Sample]] = defaultdict(list)
    humidity: dict[str, list[Sample]] = defaultdict(list)
    async with conn.cursor(name="report_readings") as cur:
        cur.itersize = 5000
        await cur.execute("SELECT device_id, time, temp_c, humidity_pct FROM readings WHERE shipment_id = %s"
                          " ORDER BY device_id, time", (shipment_id,))
        async for device_id, time, temp_c, humidity_pct in cur:
            if temp_c is not None:
                temps[device_id].append(Sample(time, temp_c))
            if humidity_pct is not None:
                humidity[device_id].append(Sample(time, humidity_pct))
    return [DeviceSeries(d, tuple(temps[d]), tuple(humidity[d])) for d in sorted(set(temps) | set(humidity))]


async def _etas(conn: AsyncConnection[Any], shipment_id: str) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT time, eta, phase, legs, viability_state, viability_used_h,"
                      " viability_remaining_at_eta_h, viability_lost_at, viability_lost_reason"
                      " FROM eta WHERE shipment_id = %s ORDER BY time, id", (shipment_id,))
    return list(await cur.fetchall())


def _viability(etas: list[dict[str, Any]]) -> ViabilityRow | None:
    """The latest forecast's budget, and the loss if any forecast found one (lost is for good)."""
    if not etas:
        return None
    latest = etas[-1]
    # The latest lost forecast: its time of loss saw the most readings (lost stays lost).
    lost = next((e for e in reversed(etas) if e["viability_state"] == "lost"), None)
    return ViabilityRow(
        state="lost" if lost else latest["viability_state"],
        used_h=latest["viability_used_h"],
        remaining_at_eta_h=latest["viability_remaining_at_eta_h"],
        lost_at=lost["viability_lost_at"] if lost else None,
        lost_reason=lost["viability_lost_reason"] if lost else None,
    )


def _legs(shipment: Shipment, latest_eta: dict[str, Any] | None) -> tuple[LegRow, ...]:
    if latest_eta and latest_eta["legs"]:
        return tuple(LegRow(leg["index"], leg["origin"], leg["destination"], leg["mode"], leg["state"],
                            _time(leg.get("departed_at")), _time(leg.get("arrived_at")))
                     for leg in latest_eta["legs"])
    places = [shipment.origin.name, *(w.name for w in shipment.waypoints), shipment.destination.name]
    modes = [w.mode for w in shipment.waypoints] + [shipment.destination.mode]
    return tuple(LegRow(i, places[i], places[i + 1], modes[i], "planned") for i in range(len(modes)))


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def _excursions(conn: AsyncConnection[Any], shipment_id: str) -> tuple[ExcursionRow, ...]:
    cur = await conn.execute(
        "SELECT device_id, kind, severity, status, started_at, ended_at, duration_min, peak_c, degree_minutes,"
        " peak_humidity_pct FROM excursions WHERE shipment_id = %s AND status <> 'retracted'"
        " ORDER BY started_at, device_id", (shipment_id,))
    return tuple(ExcursionRow(*row) for row in await cur.fetchall())


async def _alerts(conn: AsyncConnection[Any], shipment_id: str) -> tuple[AlertRow, ...]:
    cur = await conn.execute(
        "SELECT a.id, a.kind, a.severity, a.step, a.event_time, a.raised_at, a.acknowledged_at, a.acknowledged_by,"
        " d.role, d.channel, d.status, d.sent_at FROM alerts a LEFT JOIN alert_deliveries d ON d.alert_id = a.id"
        " WHERE a.shipment_id = %s ORDER BY a.event_time, a.raised_at, a.id, d.role, d.channel", (shipment_id,))
    alerts: dict[str, AlertRow] = {}
    for alert_id, *head, role, channel, status, sent_at in await cur.fetchall():
        row = alerts.get(alert_id) or AlertRow(*head)
        if role is not None:
            row = replace(row, deliveries=(*row.deliveries, DeliveryRow(role, channel, status, sent_at)))
        alerts[alert_id] = row
    return tuple(alerts.values())


async def _chain_heads(conn: AsyncConnection[Any], devices: list[str]) -> dict[str, str]:
    cur = await conn.execute(
        "SELECT d, (SELECT encode(chain_hash, 'hex') FROM readings r WHERE r.device_id = d ORDER BY time DESC"
        " LIMIT 1) FROM unnest(%s::text[]) AS d", (devices,))
    return {device: head or "(no readings)" for device, head in await cur.fetchall()}
