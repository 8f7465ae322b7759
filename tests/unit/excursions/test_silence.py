"""Sensor silence: a pure check driven by the agent's timer, suppressed in the air."""

from __future__ import annotations

from schemas.excursion import excursion_id
from services.excursions.scoring import apply_readings, check_silence, excursions
from tests.unit.excursions.scenarios import (
    DEVICE,
    SHIPMENT,
    at,
    lobster_limits,
    reading,
    run_one_by_one,
    series,
)


def test_no_reading_for_30_minutes_on_the_ground_opens_sensor_silent() -> None:
    state, _ = run_one_by_one(series(0, [3.0] * 10))  # last reading at minute 9
    limits = lobster_limits()

    state, early = check_silence(state, at(38), in_air=False, limits=limits)
    state, due = check_silence(state, at(39), in_air=False, limits=limits)
    state, again = check_silence(state, at(45), in_air=False, limits=limits)

    assert early == [] and again == []
    assert [(e.kind, e.step, e.severity) for e in due] == [("sensor_silent", "opened", "warning")]
    assert due[0].started_at == at(9) and due[0].ended_at is None
    assert due[0].id == excursion_id(SHIPMENT, DEVICE, "sensor_silent", at(9))


def test_silence_in_the_air_is_expected() -> None:
    state, _ = run_one_by_one(series(0, [3.0] * 10))
    state, events = check_silence(state, at(600), in_air=True, limits=lobster_limits())
    assert events == []


def test_backlog_closes_the_silence_and_excursions_in_the_gap_get_true_times() -> None:
    limits = lobster_limits()
    state, _ = run_one_by_one(series(0, [3.0] * 10))
    state, _ = check_silence(state, at(45), in_air=False, limits=limits)

    # Live readings come back first, then the stored ones from the gap (minutes 10-99).
    live = [reading(100 + m, 3.0, received_minute=100 + m) for m in range(10)]
    gap_temps = [3.0] * 20 + [9.0] * 40 + [3.0] * 30
    backlog = [reading(10 + m, t, received_minute=111) for m, t in enumerate(gap_temps)]
    state, on_return = apply_readings(state, live[:1], limits)
    state, _ = apply_readings(state, live[1:], limits)
    state, late = apply_readings(state, backlog, limits)

    assert [(e.kind, e.step) for e in on_return] == [("sensor_silent", "closed")]
    assert on_return[0].started_at == at(9) and on_return[0].ended_at == at(100)
    assert [(e.kind, e.step, e.found_late) for e in late] == [("temp_high", "closed", True)]
    found = excursions(state, limits)
    assert [(e.kind, e.started_at, e.ended_at) for e in found] == [("temp_high", at(30), at(70))]


def test_a_device_that_speaks_again_can_fall_silent_again() -> None:
    limits = lobster_limits()
    state, _ = run_one_by_one(series(0, [3.0] * 10))
    state, first = check_silence(state, at(40), in_air=False, limits=limits)
    state, _ = apply_readings(state, [reading(50, 3.0)], limits)
    state, second = check_silence(state, at(81), in_air=False, limits=limits)
    assert len(first) == len(second) == 1
    assert second[0].started_at == at(50) and second[0].id != first[0].id
