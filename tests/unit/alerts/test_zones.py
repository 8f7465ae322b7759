from __future__ import annotations

from schemas.shipment import Party, Place
from services.alerts.policy import recipients_for
from services.alerts.zones import party_zone, shipment_zones, zone_near, zone_of_phone
from tests.unit.alerts.factories import contract_shipment

HALIFAX_AIRPORT = Place(name="Halifax Stanfield (YHZ)", lat=44.8808, lon=-63.5086)
HANGZHOU = Place(name="Hangzhou buyer warehouse", lat=30.2741, lon=120.1551)
MID_PACIFIC = Place(name="Somewhere at sea", lat=0.0, lon=-140.0)


def test_a_plus_1_902_number_is_halifax_by_its_area_code() -> None:
    assert zone_of_phone("+19025550100") == "America/Halifax"


def test_a_plus_86_number_is_shanghai() -> None:
    assert zone_of_phone("+8657155500100") == "Asia/Shanghai"


def test_a_number_spanning_several_zones_gives_no_answer() -> None:
    assert zone_of_phone("+18005550100") is None  # toll-free: all of North America
    assert zone_of_phone("+79161234567") is None  # a Russian mobile: eleven zones
    assert zone_of_phone("+861381234567") is None  # too short to be a number


def test_a_place_takes_the_zone_of_the_nearest_airport_within_a_few_hundred_km() -> None:
    assert zone_near(HANGZHOU.lat, HANGZHOU.lon) == "Asia/Shanghai"
    assert zone_near(HALIFAX_AIRPORT.lat, HALIFAX_AIRPORT.lon) == "America/Halifax"
    assert zone_near(MID_PACIFIC.lat, MID_PACIFIC.lon) is None


def test_a_given_zone_wins_and_says_so() -> None:
    party = Party(name="Seller", phone="+8657155500100", timezone="America/Moncton")
    zone = party_zone(party, HANGZHOU)
    assert (zone.timezone, zone.timezone_source) == ("America/Moncton", "given")


def test_without_a_phone_the_zone_comes_from_the_place() -> None:
    zone = party_zone(Party(name="Buyer", email="qa@buyer.example"), HANGZHOU)
    assert (zone.timezone, zone.timezone_source) == ("Asia/Shanghai", "place")


def test_an_ambiguous_phone_falls_through_to_the_place() -> None:
    zone = party_zone(Party(name="Seller", phone="+18005550100"), HALIFAX_AIRPORT)
    assert (zone.timezone, zone.timezone_source) == ("America/Halifax", "place")


def test_nothing_known_leaves_the_configured_default() -> None:
    zone = party_zone(Party(name="Boat", email="a@b.example"), MID_PACIFIC)
    assert (zone.timezone, zone.timezone_source) == (None, "default")


def test_the_contract_registration_gets_both_zones_from_the_phones() -> None:
    zones = shipment_zones(contract_shipment())
    assert (zones.seller.timezone, zones.seller.timezone_source) == ("America/Halifax", "phone")
    assert (zones.buyer.timezone, zones.buyer.timezone_source) == ("Asia/Shanghai", "phone")


def test_recipients_use_the_zones_stored_at_registration() -> None:
    from datetime import UTC, datetime

    from schemas.shipment import PartyZone, PartyZones, Shipment

    body = contract_shipment()
    stored = PartyZones(
        seller=PartyZone(timezone="America/Moncton", timezone_source="place"),
        buyer=PartyZone(timezone="Asia/Shanghai", timezone_source="phone"),
    )
    shipment = Shipment(**body.model_dump(), created_at=datetime.now(UTC), party_zones=stored)
    seller, buyer = recipients_for(shipment)
    assert (seller.timezone, seller.timezone_source) == ("America/Moncton", "place")
    assert (buyer.timezone, buyer.timezone_source, buyer.language) == ("Asia/Shanghai", "phone", "en")
