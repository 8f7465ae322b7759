"""Mean kinetic temperature, checked against hand computation."""

from __future__ import annotations

import math

import pytest

from services.excursions.scoring import device_mkt_c, shipment_mkt_c
from tests.unit.excursions.scenarios import DEVICE, reading, run_one_by_one, series


def test_mkt_of_two_equal_halves_at_20_and_30c() -> None:
    # By hand: exp(-10000/293.15) = 1.5320e-15, exp(-10000/303.15) = 4.7200e-15;
    # their mean 3.1260e-15; -ln of it = 33.3990; 10000 / 33.3990 = 299.41 K = 26.26 degC.
    state, _ = run_one_by_one([reading(0, 20.0), reading(60, 30.0), reading(120, 20.0)])
    # Trapezoid weights: 20 degC gets 30+30 minutes, 30 degC gets 30+30 minutes.
    assert shipment_mkt_c(state) == pytest.approx(26.26, abs=0.01)


def test_mkt_weights_each_reading_by_its_interval() -> None:
    temps = {0: 2.0, 10: 8.0, 40: 4.0}  # uneven: 10 then 30 minutes
    state, _ = run_one_by_one([reading(m, t) for m, t in temps.items()])

    def factor(celsius: float) -> float:
        return math.exp(-10_000 / (celsius + 273.15))

    # Each reading weighs half of each interval it borders.
    weights = {0: 5.0, 10: 5.0 + 15.0, 40: 15.0}
    mean = sum(weights[m] * factor(temps[m]) for m in temps) / 40
    expected = 10_000 / -math.log(mean) - 273.15
    assert device_mkt_c(state, DEVICE) == pytest.approx(expected, rel=1e-12)
    # MKT sits above the time-weighted mean when temperatures vary (Jensen).
    assert expected > sum(weights[m] * temps[m] for m in temps) / 40


def test_mkt_of_a_constant_temperature_is_that_temperature_and_devices_combine() -> None:
    state, _ = run_one_by_one(series(0, [4.0] * 30))
    assert shipment_mkt_c(state) == pytest.approx(4.0)
    state, _ = run_one_by_one(series(0, [4.0] * 31, device="TRK-B"), state=state)
    assert shipment_mkt_c(state) == pytest.approx(4.0)
    assert device_mkt_c(state, "nobody") is None
