import random
from datetime import UTC, datetime, timedelta

import pytest

from services.eta.viability import ViabilityLedger, consumption_rate, record, settle, used_h
from services.profiles.model import ViabilityModel

MODEL = ViabilityModel(budget_h=48, reference_c=4.0, q10=2.0, floor_rate=0.5)
PACKED = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)
BUCKET = 10


def _ledger(samples: list[tuple[datetime, float]]) -> ViabilityLedger:
    ledger = ViabilityLedger()
    for time, temp in samples:
        ledger = record(ledger, time, temp, PACKED, BUCKET)
    return ledger


def _every(minutes: int, hours: float, temp: float, start: datetime = PACKED):
    count = int(hours * 60 / minutes)
    return [(start + timedelta(minutes=minutes * i), temp) for i in range(count + 1)]


def test_rate_is_one_at_reference_doubles_per_q10_step_and_never_drops_below_floor() -> None:
    assert consumption_rate(MODEL, 4.0) == pytest.approx(1.0)
    assert consumption_rate(MODEL, 14.0) == pytest.approx(2.0)
    assert consumption_rate(MODEL, 9.0) == pytest.approx(2**0.5)
    assert consumption_rate(MODEL, -1.0) == pytest.approx(2**-0.5)  # still above the floor
    assert consumption_rate(MODEL, -10.0) == pytest.approx(0.5)


def test_hours_at_reference_use_budget_hour_for_hour_and_warm_hours_twice_as_fast() -> None:
    cold = _ledger(_every(5, 10, 4.0))
    warm = _ledger(_every(5, 10, 14.0))
    until = PACKED + timedelta(hours=10)
    assert used_h(cold, MODEL, PACKED, until, BUCKET) == pytest.approx(10.0, abs=1e-9)
    assert used_h(warm, MODEL, PACKED, until, BUCKET) == pytest.approx(20.0, abs=1e-9)


def test_gap_holds_the_last_known_rate_and_start_is_backfilled() -> None:
    # Readings only from 2 h to 3 h at 14 C: the hours before and after take that rate.
    ledger = _ledger(_every(5, 1, 14.0, start=PACKED + timedelta(hours=2)))
    assert used_h(ledger, MODEL, PACKED, PACKED + timedelta(hours=6), BUCKET) == pytest.approx(12.0)


def test_order_and_duplicates_do_not_change_the_ledger() -> None:
    samples = _every(3, 8, 3.0) + _every(7, 3, 11.0, start=PACKED + timedelta(hours=2))
    shuffled = samples * 2
    random.Random(7).shuffle(shuffled)
    until = PACKED + timedelta(hours=8)
    assert _ledger(shuffled) == _ledger(samples)
    assert used_h(_ledger(shuffled), MODEL, PACKED, until, BUCKET) == used_h(
        _ledger(samples), MODEL, PACKED, until, BUCKET
    )


def test_settling_keeps_the_total_and_ignores_readings_behind_the_horizon() -> None:
    ledger = _ledger(_every(5, 30, 6.0))
    until = PACKED + timedelta(hours=30)
    settled = settle(ledger, MODEL, None, PACKED, PACKED + timedelta(hours=20), BUCKET)
    assert len(settled.bands) < len(ledger.bands)
    assert used_h(settled, MODEL, PACKED, until, BUCKET) == pytest.approx(
        used_h(ledger, MODEL, PACKED, until, BUCKET)
    )
    too_late = record(settled, PACKED + timedelta(hours=1), 8.0, PACKED, BUCKET)
    assert too_late == settled


def test_readings_before_packing_are_not_counted() -> None:
    before = _ledger([(PACKED - timedelta(hours=1), 30.0)])
    assert before.bands == ()
