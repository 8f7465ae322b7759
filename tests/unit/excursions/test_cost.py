"""Cost: the live path is incremental and a late reading re-scores from a nearby checkpoint."""

from __future__ import annotations

import time

import pytest

import services.excursions.scoring as scoring
from services.excursions.scoring import ScoringConfig, apply_readings, new_state
from services.excursions.tracker import step
from tests.unit.excursions.scenarios import SHIPMENT, lobster_limits, reading

TEMPS = [3.0, 4.0, 6.0, 9.0, 11.0, 4.0, 3.0, -0.5, -2.0, 2.0]


def test_in_order_readings_score_at_more_than_20000_per_second() -> None:
    limits = lobster_limits()
    readings = [reading(i * 0.5, TEMPS[(i // 40) % len(TEMPS)], 80.0) for i in range(40_000)]
    state = new_state(SHIPMENT)
    started = time.perf_counter()
    for item in readings:
        state, _ = apply_readings(state, [item], limits)
    rate = len(readings) / (time.perf_counter() - started)
    assert rate > 20_000, f"{rate:.0f} readings/s"


def test_a_late_reading_replays_from_the_checkpoint_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = lobster_limits()
    config = ScoringConfig(checkpoint_every=64)
    state, _ = apply_readings(new_state(SHIPMENT), [reading(m, 3.0) for m in range(10_000)], limits, config)

    calls = 0

    def counting_step(*args: object) -> object:
        nonlocal calls
        calls += 1
        return step(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(scoring, "step", counting_step)
    state, _ = apply_readings(state, [reading(9_899.5, 3.0)], limits, config)
    # Two temperature rules per reading, from at most 64 readings before the late one.
    assert 0 < calls <= 2 * (64 + 101)
