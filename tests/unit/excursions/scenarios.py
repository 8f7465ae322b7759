"""Building blocks for excursion tests: readings at minute offsets, the live-lobster limits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from schemas.excursion import ExcursionEvent, ExcursionLimits
from schemas.reading import Reading
from services.excursions.scoring import DEFAULT_CONFIG, ScoringConfig, apply_readings, new_state
from services.excursions.state import ShipmentState
from services.profiles.catalog import load_profiles
from services.registry.limits import limits_for

SHIPMENT = "SHP-2026-0001"
DEVICE = "TRK-0001"
T0 = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)


def lobster_limits() -> ExcursionLimits:
    return limits_for(load_profiles()["live-lobster"])


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def reading(
    minute: float,
    temp_c: float | None = None,
    humidity_pct: float | None = None,
    device: str = DEVICE,
    received_minute: float | None = None,
    lat: float | None = None,
    lon: float | None = None,
    speed_kmh: float | None = None,
) -> Reading:
    return Reading(
        device_id=device,
        time=at(minute),
        shipment_id=SHIPMENT,
        temp_c=temp_c,
        humidity_pct=humidity_pct,
        lat=lat,
        lon=lon,
        speed_kmh=speed_kmh,
        received_at=at(minute if received_minute is None else received_minute),
    )


def series(start_minute: float, temps: Sequence[float], every_min: float = 1.0, **fields: object) -> list[Reading]:
    """One reading per ``every_min`` minutes from ``start_minute``, one per temperature."""
    return [
        reading(start_minute + i * every_min, temp, **fields)  # type: ignore[arg-type]
        for i, temp in enumerate(temps)
    ]


def run_one_by_one(
    readings: Iterable[Reading],
    limits: ExcursionLimits | None = None,
    config: ScoringConfig = DEFAULT_CONFIG,
    state: ShipmentState | None = None,
) -> tuple[ShipmentState, list[ExcursionEvent]]:
    """Feeds readings one call each, as the live agent does; returns all events."""
    limits = limits or lobster_limits()
    state = state or new_state(SHIPMENT)
    events: list[ExcursionEvent] = []
    for item in readings:
        state, emitted = apply_readings(state, [item], limits, config)
        events.extend(emitted)
    return state, events


def latest_by_id(events: Iterable[ExcursionEvent]) -> dict[str, ExcursionEvent]:
    """What a consumer that upserts by id, keeping the highest revision, ends up holding."""
    held: dict[str, ExcursionEvent] = {}
    for event in events:
        current = held.get(event.id)
        if current is None or event.revision > current.revision:
            held[event.id] = event
    return {k: v for k, v in held.items() if v.step != "retracted"}
