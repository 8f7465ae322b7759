"""Kept for callers of the old path (bench/eta_accuracy.py): the distance is ``services.geo``'s."""

from __future__ import annotations

from services.geo import EARTH_RADIUS_KM, great_circle_km

__all__ = ["EARTH_RADIUS_KM", "great_circle_km"]
