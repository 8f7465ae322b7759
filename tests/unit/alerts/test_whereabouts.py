from __future__ import annotations

from datetime import timedelta

from services.alerts.whereabouts import place_at
from tests.unit.alerts.factories import STA, STD, contract_shipment


def test_within_the_booked_flight_it_is_on_that_flight_in_the_zone_it_left() -> None:
    place = place_at(contract_shipment(), STD + timedelta(hours=5))
    assert place is not None
    assert place.short == "flight YHZ->PVG" and place.leg_index == 0 and place.mode == "air"
    assert place.name == "flight Halifax Stanfield (YHZ) -> Shanghai Pudong (PVG) (booked)"
    assert place.timezone == "America/Halifax"


def test_before_the_booked_departure_it_is_at_the_origin() -> None:
    place = place_at(contract_shipment(), STD - timedelta(minutes=30))
    assert place is not None and place.short == "at YHZ" and place.timezone == "America/Halifax"


def test_after_the_booked_arrival_with_no_booking_on_then_nothing_is_claimed() -> None:
    assert place_at(contract_shipment(), STA + timedelta(hours=1)) is None


def test_without_bookings_nothing_is_claimed() -> None:
    assert place_at(contract_shipment(booked=False), STD + timedelta(hours=5)) is None
