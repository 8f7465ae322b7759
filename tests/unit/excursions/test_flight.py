"""The in-air judgement that keeps the silence check quiet in flight."""

from __future__ import annotations

from schemas.shipment import Shipment
from services.excursions.flight import air_departures, likely_in_air
from services.excursions.scoring import apply_readings, new_state
from services.excursions.state import ShipmentState
from services.geo import great_circle_km
from tests.unit.excursions.scenarios import SHIPMENT, lobster_limits, reading

YHZ = (44.8808, -63.5086)
ANC = (61.1743, -149.9963)
PVG = (31.1443, 121.8083)
HANGZHOU = (30.2741, 120.1551)


def _shipment() -> Shipment:
    def place(name: str, where: tuple[float, float], mode: str | None = None) -> dict[str, object]:
        return {"name": name, "lat": where[0], "lon": where[1], **({"mode": mode} if mode else {})}

    return Shipment.model_validate(
        {
            "id": SHIPMENT,
            "devices": ["TRK-0001"],
            "origin": place("YHZ", YHZ),
            "waypoints": [place("ANC", ANC, "air"), place("PVG", PVG, "air")],
            "destination": place("Hangzhou", HANGZHOU, "road"),
            "packed_at": "2026-11-09T17:00:00Z",
            "deliver_by": "2026-11-11T12:00:00Z",
            "seller": {"name": "S"},
            "buyer": {"name": "B"},
            "created_at": "2026-11-09T16:00:00Z",
        }
    )


def _state_at(where: tuple[float, float], speed_kmh: float | None = None) -> ShipmentState:
    item = reading(0, 3.0, lat=where[0], lon=where[1], speed_kmh=speed_kmh)
    state, _ = apply_readings(new_state(SHIPMENT), [item], lobster_limits())
    return state


def test_air_legs_start_where_the_previous_stop_is() -> None:
    assert [p.name for p in air_departures(_shipment())] == ["YHZ", "ANC"]


def test_at_an_air_departure_or_at_airliner_speed_means_in_the_air() -> None:
    shipment = _shipment()
    assert likely_in_air(shipment, _state_at(YHZ))
    assert likely_in_air(shipment, _state_at(ANC))
    assert likely_in_air(shipment, _state_at((50.0, -100.0), speed_kmh=850.0))
    assert not likely_in_air(shipment, _state_at(PVG))  # landed: silence there is news
    assert not likely_in_air(shipment, _state_at(HANGZHOU, speed_kmh=60.0))
    assert not likely_in_air(shipment, new_state(SHIPMENT))


def test_distance_halifax_to_shanghai() -> None:
    assert 11_000 < great_circle_km(*YHZ, *PVG) < 12_000
