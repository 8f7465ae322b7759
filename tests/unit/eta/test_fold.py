"""``fold`` keeps one working copy of the state across a record's readings: whatever the
grouping, it ends where folding the readings one record each ends (same state, field for
field), for readings late, early, duplicated, at stops or between them, warm or frozen."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.trips import halifax_to_hangzhou
from schemas.reading import Reading
from services.eta.context import make_context
from services.eta.parameters import EtaParameters
from services.eta.tracking import EtaState, fold, new_state
from services.profiles.catalog import load_profiles

SHIPMENT = halifax_to_hangzhou()
PROFILE = load_profiles()["live-lobster"]
# Short horizons, so that settling and the speed window's edge happen within a few hours.
PARAMS = EtaParameters(lateness_h=2.0, speed_window_min=20.0, viability_bucket_min=10)
CONTEXT = make_context(SHIPMENT, PROFILE, PARAMS)
STOPS = [(stop.lat, stop.lon) for stop in CONTEXT.route.stops]


def _reading(seconds: int, fraction_us: int, at: int | None, offset: float, temp: float | None) -> Reading:
    lat_lon = (None, None) if at is None else (STOPS[at][0] + offset, STOPS[at][1] - offset)
    return Reading(device_id="TRK-FOLD", shipment_id=SHIPMENT.id, seq=seconds,
                   time=SHIPMENT.packed_at + timedelta(seconds=seconds - 1800, microseconds=fraction_us),
                   lat=lat_lon[0], lon=lat_lon[1], temp_c=temp, received_at=SHIPMENT.packed_at)


_readings = st.builds(
    _reading,
    seconds=st.integers(0, 6 * 3600),  # half an hour before packing to 5.5 h after
    fraction_us=st.sampled_from([0, 1, 499_999]),
    at=st.none() | st.integers(0, len(STOPS) - 1),
    offset=st.sampled_from([0.0, 0.001, 0.05, 1.0]),  # inside a geofence, at its edge, far out
    temp=st.none() | st.sampled_from([-3.8, 0.0, 0.004, 2.5, 2.5049, 11.0]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_readings, min_size=1, max_size=80), st.lists(st.integers(1, 30), min_size=1, max_size=10))
def test_any_grouping_of_the_readings_folds_to_the_same_state(readings: list[Reading], sizes: list[int]) -> None:
    one_by_one = new_state(CONTEXT)
    for reading in readings:
        one_by_one = fold(one_by_one, [reading], CONTEXT)
    grouped, start, turn = new_state(CONTEXT), 0, 0
    while start < len(readings):
        size = sizes[turn % len(sizes)]
        grouped = fold(grouped, readings[start:start + size], CONTEXT)
        start, turn = start + size, turn + 1
    assert grouped == one_by_one
    assert EtaState.model_validate(grouped.model_dump(mode="json")) == one_by_one  # as stored, too
