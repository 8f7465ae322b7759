"""The places of the Nova Scotia -> China lobster trade, and great-circle maths."""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.geo import EARTH_RADIUS_KM, great_circle_km


@dataclass(frozen=True)
class Site:
    """A named place; ``code`` is the IATA code for airports, a short tag otherwise."""

    code: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Packer:
    """A packing plant: the seller, and where its shipments start."""

    site: Site
    company: str


@dataclass(frozen=True)
class Buyer:
    """An importer's cold warehouse, served from one arrival airport."""

    site: Site
    company: str
    airport: str  # IATA code of the airport it trucks from


HALIFAX = Site("YHZ", "Halifax Stanfield (YHZ)", 44.8808, -63.5086)
ANCHORAGE = Site("ANC", "Anchorage Ted Stevens (ANC)", 61.1743, -149.9963)

ARRIVAL_AIRPORTS: dict[str, Site] = {
    "PVG": Site("PVG", "Shanghai Pudong (PVG)", 31.1443, 121.8083),
    "CGO": Site("CGO", "Zhengzhou Xinzheng (CGO)", 34.5197, 113.8409),
    "CSX": Site("CSX", "Changsha Huanghua (CSX)", 28.1892, 113.2196),
}

# Where a flight bound for an arrival airport lands when it cannot (weather, slots).
ALTERNATE_AIRPORTS: dict[str, Site] = {
    "PVG": Site("NKG", "Nanjing Lukou (NKG)", 31.7420, 118.8620),
    "CGO": Site("WUH", "Wuhan Tianhe (WUH)", 30.7838, 114.2081),
    "CSX": Site("CAN", "Guangzhou Baiyun (CAN)", 23.3924, 113.2988),
}

PACKERS: tuple[Packer, ...] = (
    Packer(Site("SHD", "Shediac packing plant", 46.2196, -64.5404), "Shediac Lobster Co."),
    Packer(Site("YQI", "Yarmouth packing plant", 43.8375, -66.1174), "Yarmouth Sea Products"),
    Packer(
        Site("CLH", "Clark's Harbour packing plant", 43.4215, -65.6376),
        "Clark's Harbour Fisheries",
    ),
    Packer(Site("LBG", "Louisbourg packing plant", 45.9229, -59.9706), "Louisbourg Seafoods"),
    Packer(Site("PIC", "Pictou packing plant", 45.6781, -62.7087), "Pictou Lobster Co."),
)

BUYERS: tuple[Buyer, ...] = (
    Buyer(Site("HGZ", "Hangzhou buyer warehouse", 30.2741, 120.1551),
          "Hangzhou Fresh Ltd.", "PVG"),
    Buyer(Site("SHA", "Shanghai buyer warehouse", 31.2304, 121.4737),
          "Shanghai Ocean Foods", "PVG"),
    Buyer(Site("SZV", "Suzhou buyer warehouse", 31.2990, 120.5853),
          "Suzhou Seafood Trading", "PVG"),
    Buyer(Site("ZZH", "Zhengzhou buyer warehouse", 34.7466, 113.6254),
          "Zhengzhou Cold Chain Co.", "CGO"),
    Buyer(Site("LYG", "Luoyang buyer warehouse", 34.6197, 112.4540),
          "Luoyang Fresh Market", "CGO"),
    Buyer(Site("CSH", "Changsha buyer warehouse", 28.2282, 112.9388),
          "Changsha Seafood Import", "CSX"),
)


def distance_km(a: Site, b: Site) -> float:
    """Great-circle distance between two sites (``services.geo``)."""
    return great_circle_km(a.lat, a.lon, b.lat, b.lon)


def interpolate(a: Site, b: Site, fraction: float) -> tuple[float, float]:
    """The point ``fraction`` of the way along the great circle from a to b, as (lat, lon)."""
    fraction = min(1.0, max(0.0, fraction))
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    delta = distance_km(a, b) / EARTH_RADIUS_KM
    if delta < 1e-9:
        return a.lat, a.lon
    wa = math.sin((1 - fraction) * delta) / math.sin(delta)
    wb = math.sin(fraction * delta) / math.sin(delta)
    x = wa * math.cos(lat1) * math.cos(lon1) + wb * math.cos(lat2) * math.cos(lon2)
    y = wa * math.cos(lat1) * math.sin(lon1) + wb * math.cos(lat2) * math.sin(lon2)
    z = wa * math.sin(lat1) + wb * math.sin(lat2)
    lat = math.degrees(math.atan2(z, math.hypot(x, y)))
    lon = math.degrees(math.atan2(y, x))
    return lat, lon


def offset_metres(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """A point moved by small distances north and east (GPS noise), longitude wrapped."""
    new_lat = lat + north_m / 111_320.0
    new_lon = lon + east_m / (111_320.0 * max(0.01, math.cos(math.radians(lat))))
    new_lon = (new_lon + 180.0) % 360.0 - 180.0
    return max(-90.0, min(90.0, new_lat)), new_lon
