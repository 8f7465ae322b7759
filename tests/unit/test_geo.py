"""``within_km`` answers as ``great_circle_km(...) <= radius`` does, also when it skips the
trigonometry (issue 22: four distances a reading were a fifth of the ETA's fold)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.geo import great_circle_km, within_km

lats = st.floats(min_value=-90, max_value=90)
lons = st.floats(min_value=-180, max_value=180)
radii = st.floats(min_value=0, max_value=25_000)


@given(lats, lons, lats, lons, radii)
def test_within_is_the_distance_compared(lat1: float, lon1: float, lat2: float, lon2: float, radius: float) -> None:
    assert within_km(lat1, lon1, lat2, lon2, radius) == (great_circle_km(lat1, lon1, lat2, lon2) <= radius)


@given(lats, lons, st.floats(min_value=-0.5, max_value=0.5), st.floats(min_value=-0.5, max_value=0.5),
       st.floats(min_value=0, max_value=60))
def test_near_a_stop_too(lat: float, lon: float, dlat: float, dlon: float, radius: float) -> None:
    other_lat = max(-90.0, min(90.0, lat + dlat))
    assert within_km(lat, lon, other_lat, lon + dlon, radius) == (
        great_circle_km(lat, lon, other_lat, lon + dlon) <= radius)
