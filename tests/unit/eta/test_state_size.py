"""The ETA state is written to the changelog on every reading: its size must not grow with
the trip's history, only with what the maths needs (the speed window, the viability ledger
within the lateness horizon)."""

from __future__ import annotations

from datetime import timedelta

from bench.trips import TripPlan, halifax_to_hangzhou, simulate
from services.eta.context import make_context
from services.eta.core import apply_reading
from services.eta.parameters import EtaParameters
from services.eta.tracking import EtaState
from services.profiles.catalog import load_profiles

PARAMS = EtaParameters()
MAX_STATE_BYTES = 8_000  # one-minute samples: 45 window fixes and 36 h of 10-minute buckets


def test_stored_state_stays_bounded_over_a_four_day_trip() -> None:
    ship = halifax_to_hangzhou(deliver_within_h=120)
    trip = simulate(TripPlan(shipment=ship, dwell_h=[0.5, 4.0, 4.0], travel_h=[0.7, 15.0, 75.0],
                             sample_min=1.0))
    context = make_context(ship, load_profiles()["live-lobster"], PARAMS)
    settled = ship.packed_at + timedelta(hours=PARAMS.lateness_h + 2)
    state: EtaState | None = None
    sizes_after_horizon = []
    for reading in trip.readings:
        state, _ = apply_reading(state, reading, context)
        if reading.received_at > settled:
            sizes_after_horizon.append(len(state.model_dump_json()))
    assert state is not None and trip.arrival - ship.packed_at > timedelta(days=4)
    assert len(sizes_after_horizon) > 3000
    assert max(sizes_after_horizon) <= MAX_STATE_BYTES
    # Two more days of readings past the horizon add nothing but jitter.
    assert sizes_after_horizon[-1] <= sizes_after_horizon[0] * 1.1
    assert len(state.ledger.bands) <= PARAMS.lateness_h * 60 / PARAMS.viability_bucket_min + 2
    assert len(state.recent_fixes) <= PARAMS.speed_window_min + 1
