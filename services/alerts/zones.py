"""A party's time zone when the registration gives none: pure, from data shipped in packages.

In order: the zone given at registration; the zone of the phone number (phonenumbers maps
a number's prefix to zones: the country code, and within +1 or +7 the area code), when
that answer is a single zone; the zone of the nearest airport (airportsdata) to the
party's place, origin for the seller and destination for the buyer, when one lies within
``PLACE_RADIUS_KM``; else none, and the alert service's configured default applies.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import airportsdata
import phonenumbers
from phonenumbers import timezone as phone_zones

from schemas.shipment import Party, PartyZone, PartyZones, Place, ShipmentIn
from services.geo import great_circle_km

# An airport this far from a place still shares its zone in practice (zone borders run
# far from most cargo hubs); further than that, a guess would be worse than the default.
PLACE_RADIUS_KM = 300.0
_UNKNOWN = "Etc/Unknown"  # phonenumbers' answer when the prefix has no zone


def shipment_zones(shipment: ShipmentIn) -> PartyZones:
    return PartyZones(
        seller=party_zone(shipment.seller, shipment.origin),
        buyer=party_zone(shipment.buyer, shipment.destination),
    )


def party_zone(party: Party, place: Place) -> PartyZone:
    if party.timezone:
        return PartyZone(timezone=party.timezone, timezone_source="given")
    from_phone = zone_of_phone(party.phone) if party.phone else None
    if from_phone:
        return PartyZone(timezone=from_phone, timezone_source="phone")
    near = zone_near(place.lat, place.lon)
    if near:
        return PartyZone(timezone=near, timezone_source="place")
    return PartyZone(timezone=None, timezone_source="default")


def zone_of_phone(phone: str) -> str | None:
    """The one zone of an E.164 number's prefix, or None (unknown, invalid, or several)."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in phone_zones.time_zones_for_number(number) if z != _UNKNOWN and _known(z)]
    # +1 800 or a Russian mobile spans many zones: no answer rather than a wrong one.
    return zones[0] if len(zones) == 1 else None


def zone_near(lat: float, lon: float, within_km: float = PLACE_RADIUS_KM) -> str | None:
    """The zone of the nearest airport within ``within_km``, or None."""
    best: tuple[float, str] | None = None
    for a_lat, a_lon, zone in _airports():
        if abs(a_lat - lat) * 111.0 > within_km:  # a degree of latitude is ~111 km: skip cheaply
            continue
        d = great_circle_km(lat, lon, a_lat, a_lon)
        if d <= within_km and (best is None or d < best[0]):
            best = (d, zone)
    return best[1] if best else None


def preload() -> None:
    """Reads the airport table now (about 0.3 s) rather than on the first alert needing it."""
    _airports()


@lru_cache(maxsize=1)
def _airports() -> tuple[tuple[float, float, str], ...]:
    airports = airportsdata.load("IATA").values()
    return tuple((a["lat"], a["lon"], a["tz"]) for a in airports if a.get("tz") and _known(a["tz"]))


@lru_cache(maxsize=1024)
def _known(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
