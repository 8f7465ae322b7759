from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from bench.trips import halifax_to_hangzhou
from schemas.shipment import ShipmentIn, Stop
from services.eta.parameters import EtaParameters
from services.eta.route import build_route
from services.geo import great_circle_km

PARAMS = EtaParameters()


def test_great_circle_matches_known_distance_yhz_to_pvg() -> None:
    # Halifax Stanfield to Shanghai Pudong: about 11,540 km along the great circle.
    assert great_circle_km(44.8808, -63.5086, 31.1443, 121.8083) == pytest.approx(11544, abs=15)
    assert great_circle_km(10, 20, 10, 20) == 0


def test_legs_take_the_mode_of_the_stop_they_end_at() -> None:
    route = build_route(halifax_to_hangzhou(), PARAMS)
    assert [leg.mode for leg in route.legs] == ["road", "air", "road"]
    truck, flight, last_mile = route.legs
    assert truck.distance_km == pytest.approx(truck.great_circle_km * PARAMS.road_factor)
    assert flight.distance_km == pytest.approx(flight.great_circle_km)
    assert flight.planned_h == pytest.approx(flight.distance_km / PARAMS.air_speed_kmh)
    assert last_mile.name == "Shanghai Pudong (PVG) -> Hangzhou buyer warehouse"


def test_airports_get_handling_time_and_a_wide_geofence() -> None:
    origin, yhz, pvg, warehouse = build_route(halifax_to_hangzhou(), PARAMS).stops
    assert origin.dwell_h == PARAMS.origin_loading_h
    assert yhz.dwell_h == PARAMS.air_departure_handling_h
    assert pvg.dwell_h == PARAMS.air_arrival_handling_h
    assert warehouse.dwell_h == 0
    assert yhz.radius_km == pvg.radius_km == PARAMS.airport_radius_km
    assert warehouse.radius_km == PARAMS.road_stop_radius_km


def test_fuel_stop_between_two_air_legs_is_a_transit_and_overrides_win() -> None:
    shipment = halifax_to_hangzhou()
    anc = Stop(name="Anchorage (ANC)", lat=61.1744, lon=-149.9964, mode="air")
    with_stop = shipment.model_copy(update={"waypoints": [shipment.waypoints[0], anc,
                                                          shipment.waypoints[1]]})
    params = EtaParameters(radius_overrides_km={"Anchorage (ANC)": 6.5})
    route = build_route(with_stop, params)
    assert route.stops[2].dwell_h == params.air_transit_h
    assert route.stops[2].radius_km == 6.5
    truck_arrives = with_stop.packed_at + timedelta(hours=3)
    unbooked_h = sum(route.stops[leg.index].dwell_h + leg.planned_h for leg in route.legs[1:])
    assert route.arrival_after(0, truck_arrives) == truck_arrives + timedelta(hours=unbooked_h)


def _booked(departs_in_h: float, block_h: float) -> tuple[ShipmentIn, datetime, datetime]:
    shipment = halifax_to_hangzhou()
    std = shipment.packed_at + timedelta(hours=departs_in_h)
    sta = std + timedelta(hours=block_h)
    flight = shipment.waypoints[1].model_copy(update={"scheduled_departure": std, "scheduled_arrival": sta})
    return shipment.model_copy(update={"waypoints": [shipment.waypoints[0], flight]}), std, sta


def test_a_booked_flight_sets_the_block_time_and_the_departure() -> None:
    shipment, std, sta = _booked(departs_in_h=6, block_h=15.5)
    route = build_route(shipment, PARAMS)
    flight = route.legs[1]
    assert flight.planned_h == pytest.approx(15.5)
    truck_arrives = shipment.packed_at + timedelta(hours=1.5)
    last_mile_h = route.stops[2].dwell_h + route.legs[2].planned_h
    assert route.arrival_after(0, truck_arrives) == sta + timedelta(hours=last_mile_h)


def test_cargo_that_misses_the_cut_off_misses_the_booking() -> None:
    shipment, std, _ = _booked(departs_in_h=6, block_h=15.5)
    route = build_route(shipment, PARAMS)
    late_truck = std - timedelta(hours=PARAMS.air_booking_cutoff_h - 0.25)
    leaves = route.legs[1].departure_after(late_truck)
    assert leaves == late_truck + timedelta(hours=PARAMS.air_departure_handling_h)
    assert leaves > std


def test_a_half_booked_leg_is_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError, match="go together"):
        Stop(name="PVG", lat=31.1, lon=121.8, mode="air",
             scheduled_departure=datetime(2026, 11, 10, 2, tzinfo=UTC))
    with pytest.raises(ValidationError, match="after scheduled_departure"):
        Stop(name="PVG", lat=31.1, lon=121.8, mode="air",
             scheduled_departure=datetime(2026, 11, 10, 2, tzinfo=UTC),
             scheduled_arrival=datetime(2026, 11, 10, 1, tzinfo=UTC))
