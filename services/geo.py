"""Great-circle geometry on a spherical Earth: the one distance every service uses."""

from __future__ import annotations

from math import asin, cos, radians, sin, sqrt

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance; good to ~0.5 % anywhere (the Earth is not a sphere), which is well
    inside ETA noise and the radii places are judged by."""
    phi1, phi2 = radians(lat1), radians(lat2)
    dphi = phi2 - phi1
    dlambda = radians(lon2 - lon1)
    h = sin(dphi / 2) ** 2 + cos(phi1) * cos(phi2) * sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(h)))


KM_PER_DEGREE_LATITUDE = EARTH_RADIUS_KM * radians(1.0)


def within_km(lat1: float, lon1: float, lat2: float, lon2: float, radius_km: float) -> bool:
    """Whether the points are at most ``radius_km`` apart (``great_circle_km``). Points further
    apart in latitude alone are answered without trigonometry: a great circle between two
    points is never shorter than the meridian arc between their latitudes, and a tracker is
    far from all but one or two of a route's stops. (A millimetre's margin: below it the
    haversine's rounding, not the geometry, would decide.)"""
    if abs(lat1 - lat2) * KM_PER_DEGREE_LATITUDE > radius_km + 1e-6:
        return False
    return great_circle_km(lat1, lon1, lat2, lon2) <= radius_km
