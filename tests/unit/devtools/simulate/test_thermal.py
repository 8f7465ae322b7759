import math

import pytest
from devtools.simulate.thermal import BoxModel, BoxState, advance, trace

MODEL = BoxModel(wall_tau_h=5.0, gel_tau_h=1.5, gel_melt_c=2.0, gel_capacity_k=30.0)


def test_without_gel_the_box_follows_newton_cooling() -> None:
    spent = BoxState(temp_c=4.0, gel_frozen=0.0)  # gel all melted: only the walls act
    after = advance(MODEL, spent, ambient_c=24.0, dt_h=MODEL.wall_tau_h)
    assert after.temp_c == pytest.approx(24.0 + (4.0 - 24.0) / math.e)


def test_small_steps_agree_with_one_exact_step() -> None:
    spent = BoxState(temp_c=4.0, gel_frozen=0.0)
    temps = trace(MODEL, spent, [24.0] * 300, 1 / 60)
    assert temps[-1] == pytest.approx(advance(MODEL, spent, 24.0, 5.0).temp_c, abs=1e-9)


def test_frozen_gel_slows_warming_and_melts() -> None:
    packed = BoxState(temp_c=2.0, gel_frozen=1.0)
    spent = BoxState(temp_c=2.0, gel_frozen=0.0)
    with_gel = advance(MODEL, packed, ambient_c=28.0, dt_h=2.0)
    without_gel = advance(MODEL, spent, ambient_c=28.0, dt_h=2.0)
    assert with_gel.temp_c < without_gel.temp_c - 3
    assert 0.0 < with_gel.gel_frozen < 1.0


def test_gel_refreezes_when_the_box_is_colder_than_its_melt_point() -> None:
    half = BoxState(temp_c=2.0, gel_frozen=0.5)
    after = advance(MODEL, half, ambient_c=-20.0, dt_h=1.0)
    assert after.gel_frozen > 0.5
    assert after.temp_c < 2.0


def test_a_spent_gel_gives_no_more_cold() -> None:
    state = BoxState(temp_c=2.0, gel_frozen=1.0)
    for _ in range(2000):  # a long time in a warm room melts it all
        state = advance(MODEL, state, ambient_c=20.0, dt_h=0.1)
    assert state.gel_frozen == 0.0
    assert state.temp_c == pytest.approx(20.0, abs=0.01)


def test_a_cold_box_in_a_cold_room_stays_put() -> None:
    temps = trace(MODEL, BoxState(temp_c=2.0, gel_frozen=1.0), [2.0] * 600, 1 / 60)
    assert max(temps) == pytest.approx(2.0) and min(temps) == pytest.approx(2.0)
