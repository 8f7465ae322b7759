"""Profile limits with a per-shipment override merged on (services/registry/limits.py limits_for)."""

from __future__ import annotations

import pytest

from schemas.excursion import ProfileOverride
from services.excursions.scoring import apply_readings, new_state
from services.profiles.catalog import load_profiles
from services.registry.limits import limits_for
from tests.unit.excursions.scenarios import SHIPMENT, series


def test_live_lobster_limits() -> None:
    limits = limits_for(load_profiles()["live-lobster"])
    assert (limits.nominal_low_c, limits.nominal_high_c, limits.nominal_delay_min) == (0, 5, 15)
    assert (limits.critical_low_c, limits.critical_high_c, limits.critical_delay_min) == (
        -1,
        10,
        5,
    )
    assert (limits.humidity_low_pct, limits.humidity_delay_min) == (70, 30)
    assert limits.overridden == ()


def test_override_changes_only_what_it_sets_and_changes_the_outcome() -> None:
    profile = load_profiles()["live-lobster"]
    limits = limits_for(profile, ProfileOverride(nominal_high_c=10.0, critical_high_c=12.0))
    assert (limits.nominal_high_c, limits.critical_high_c, limits.nominal_low_c) == (10, 12, 0)
    assert limits.overridden == ("critical_high_c", "nominal_high_c")

    tarmac = series(0, [9.0] * 40 + [3.0] * 10)
    _, with_override = apply_readings(new_state(SHIPMENT), tarmac, limits)
    _, without = apply_readings(new_state(SHIPMENT), tarmac, limits_for(profile))
    assert with_override == [] and len(without) == 1
    assert without[0].limits.profile == "live-lobster"


def test_override_that_breaks_the_ordering_is_refused() -> None:
    with pytest.raises(ValueError, match="critical_high_c"):
        limits_for(load_profiles()["live-lobster"], ProfileOverride(nominal_high_c=11.0))
