"""Cost: the live path is incremental and a late reading re-scores from a nearby checkpoint."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import services.excursions.scoring as scoring
from services.excursions.episodes import step
from services.excursions.scoring import ScoringConfig, apply_readings, new_state
from tests.unit.excursions.scenarios import SHIPMENT, lobster_limits, reading

TEMPS = [3.0, 4.0, 6.0, 9.0, 11.0, 4.0, 3.0, -0.5, -2.0, 2.0]


@pytest.fixture
def step_calls(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Counts the rule steps the scorer takes from now on; call it for the count so far."""
    calls = 0

    def counting_step(*args: object) -> object:
        nonlocal calls
        calls += 1
        return step(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(scoring, "step", counting_step)
    return lambda: calls


def test_an_in_order_reading_costs_the_same_whatever_the_history(step_calls: Callable[[], int]) -> None:
    """Incremental, not a replay: the work per in-order reading does not grow with the trip.
    (Speed itself is measured by ``make bench``, never asserted here.)"""
    limits = lobster_limits()
    state = new_state(SHIPMENT)
    per_reading = []
    for i in range(4_000):
        before = step_calls()
        state, _ = apply_readings(state, [reading(i * 0.5, TEMPS[(i // 40) % len(TEMPS)], 80.0)], limits)
        per_reading.append(step_calls() - before)
    # A rule steps once per reading, a second time when a state change re-evaluates the reading.
    assert max(per_reading[-500:]) == max(per_reading[:500]) <= 4


@pytest.fixture
def scored_samples(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Counts the samples the scorer feeds its rules from now on (a rule with nothing open
    and a sample inside its limit is not even stepped)."""
    calls = 0
    score = scoring._DeviceScorer._score

    def counting_score(self: scoring._DeviceScorer, sample: scoring.Sample) -> None:
        nonlocal calls
        calls += 1
        score(self, sample)

    monkeypatch.setattr(scoring._DeviceScorer, "_score", counting_score)
    return lambda: calls


def test_a_late_reading_replays_from_the_checkpoint_before_it(scored_samples: Callable[[], int]) -> None:
    limits = lobster_limits()
    config = ScoringConfig(checkpoint_every=64)
    state, _ = apply_readings(new_state(SHIPMENT), [reading(m, 3.0) for m in range(10_000)], limits, config)

    before = scored_samples()
    state, _ = apply_readings(state, [reading(9_899.5, 3.0)], limits, config)
    calls = scored_samples() - before
    # From at most 64 readings before the late one, to the newest.
    assert 0 < calls <= 64 + 101
