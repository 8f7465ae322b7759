"""Scenario tests of the pure excursion core, with the live-lobster profile."""

from __future__ import annotations

from schemas.excursion import ExcursionEvent, excursion_id
from services.excursions.scoring import ScoringConfig, apply_readings, excursions, new_state
from services.excursions.storage import StoredState, read_state, write
from tests.unit.excursions.scenarios import (
    DEVICE,
    SHIPMENT,
    at,
    lobster_limits,
    reading,
    run_one_by_one,
    series,
)


def steps(events: list[ExcursionEvent]) -> list[tuple[str, str, str]]:
    return [(e.kind, e.step, e.severity) for e in events]


def test_forty_minute_tarmac_delay_at_9c_is_one_warning_with_true_start_and_end() -> None:
    readings = series(0, [3.0] * 30 + [9.0] * 40 + [3.0] * 30)  # outside from 30 to 70
    state, events = run_one_by_one(readings)

    assert steps(events) == [("temp_high", "opened", "warning"), ("temp_high", "closed", "warning")]
    opened, closed = events
    assert opened.event_time == at(45)  # 15 minutes outside
    assert closed.event_time == at(75)  # 5 minutes back in range
    assert (closed.started_at, closed.ended_at) == (at(30), at(70))
    assert closed.duration_min == 40
    assert closed.peak_c == 9.0
    # 4 degC over the limit from minute 30 to 69, then a 1-minute ramp down to zero.
    assert closed.degree_minutes == 4.0 * 39 + (4.0 + 0.0) / 2 * 1
    assert closed.id == excursion_id(SHIPMENT, DEVICE, "temp_high", at(30))
    assert [e.model_dump(exclude={"revision"}) for e in excursions(state, lobster_limits())] == [
        closed.excursion().model_dump(exclude={"revision"})
    ]


def test_freezer_incident_at_minus_3c_opens_critical_after_the_critical_delay() -> None:
    readings = series(0, [2.0] * 10 + [-3.0] * 20 + [2.0] * 10)
    _, events = run_one_by_one(readings)

    assert steps(events) == [("temp_low", "opened", "critical"), ("temp_low", "closed", "critical")]
    assert events[0].event_time == at(15)  # 5 minutes beyond -1 degC, before the 15-min delay
    assert events[1].started_at == at(10) and events[1].ended_at == at(30)
    assert events[1].peak_c == -3.0


def test_warning_escalates_when_it_turns_critical() -> None:
    readings = series(0, [3.0] * 5 + [7.0] * 20 + [11.0] * 10 + [3.0] * 10)
    _, events = run_one_by_one(readings)

    assert steps(events) == [
        ("temp_high", "opened", "warning"),
        ("temp_high", "updated", "warning"),  # the peak jumped from 7 to 11 degC
        ("temp_high", "escalated", "critical"),
        ("temp_high", "closed", "critical"),
    ]
    assert events[1].peak_c == 11.0 and events[1].event_time == at(25)
    assert events[2].event_time == at(30)  # 11 degC from minute 25, for 5 minutes
    assert len({e.id for e in events}) == 1
    assert [e.revision for e in events] == [1, 2, 3, 4]


def test_four_minute_blip_is_nothing_even_above_the_critical_limit() -> None:
    for blip in (8.0, 12.0):
        readings = series(0, [3.0] * 10 + [blip] * 4 + [3.0] * 30)
        state, events = run_one_by_one(readings)
        assert events == []
        assert excursions(state, lobster_limits()) == []


def test_flapping_around_the_limit_is_one_excursion() -> None:
    # Above 5, then in the hysteresis band (4.5-5), with short dips below it.
    flapping = [5.3, 4.7] * 10 + [4.0, 4.2] + [5.4, 4.8] * 5 + [4.1, 5.2] * 3
    readings = series(0, [3.0] * 5 + flapping + [3.0] * 10)
    _, events = run_one_by_one(readings)

    assert steps(events) == [("temp_high", "opened", "warning"), ("temp_high", "closed", "warning")]
    assert events[1].started_at == at(5)
    assert events[1].ended_at == at(5 + len(flapping))


def test_humidity_below_70_for_30_minutes_is_a_warning_and_shorter_is_nothing() -> None:
    humid = [reading(m, 3.0, 85.0) for m in range(10)]
    dry = [reading(10 + m, 3.0, 65.0) for m in range(40)]
    back = [reading(50 + m, 3.0, 80.0) for m in range(10)]
    _, events = run_one_by_one(humid + dry + back)

    assert steps(events) == [
        ("humidity_low", "opened", "warning"),
        ("humidity_low", "closed", "warning"),
    ]
    assert events[0].event_time == at(40)
    closed = events[1]
    assert (closed.started_at, closed.ended_at) == (at(10), at(50))
    assert closed.peak_humidity_pct == 65.0 and closed.peak_c is None
    assert closed.humidity_pct_minutes == 5.0 * 39 + 5.0 / 2

    short_dry = [reading(10 + m, 3.0, 65.0) for m in range(20)]
    _, events = run_one_by_one(humid + short_dry + [reading(30 + m, 3.0, 80.0) for m in range(10)])
    assert events == []


def test_position_only_readings_do_not_break_a_temperature_excursion() -> None:
    readings = series(0, [9.0] * 20)
    readings += [reading(20.5, lat=44.88, lon=-63.5)]
    readings += series(21, [9.0] * 2 + [3.0] * 10)
    _, events = run_one_by_one(readings)
    assert steps(events) == [("temp_high", "opened", "warning"), ("temp_high", "closed", "warning")]
    assert events[1].ended_at == at(23)


def test_duplicated_readings_count_once() -> None:
    readings = series(0, [3.0] * 5 + [9.0] * 20 + [3.0] * 10)
    _, once = run_one_by_one(readings)
    state, twice = run_one_by_one([r for r in readings for _ in range(2)])
    assert twice == once
    state, again = apply_readings(state, readings, lobster_limits())
    assert again == []


def test_late_readings_revealing_an_earlier_start_retract_the_old_id() -> None:
    live = series(20, [9.0] * 30 + [3.0] * 10)
    backlog = series(5, [9.0] * 15)  # minutes 5-19, received after the live ones
    state, events = run_one_by_one(live)
    old_id = events[0].id

    state, late = apply_readings(state, backlog, lobster_limits())

    new_id = excursion_id(SHIPMENT, DEVICE, "temp_high", at(5))
    by_step = {e.step: e for e in late}
    assert set(by_step) == {"retracted", "closed"}
    assert by_step["retracted"].id == old_id
    assert by_step["retracted"].superseded_by == new_id
    assert by_step["closed"].id == new_id and by_step["closed"].started_at == at(5)
    assert all(e.found_late for e in late)
    assert [e.id for e in excursions(state, lobster_limits())] == [new_id]


def test_late_out_of_range_readings_merge_two_excursions() -> None:
    first = series(0, [9.0] * 20 + [3.0] * 6)  # closes: 3 degC from 20 to 25
    second = series(40, [9.0] * 20 + [3.0] * 10)  # nothing reported between 26 and 40
    state, events = run_one_by_one(first + second)
    assert len({e.id for e in events}) == 2

    gap = [reading(m + 0.5, 9.0) for m in range(20, 26)]  # 20.5 ... 25.5 were outside
    state, late = apply_readings(state, gap, lobster_limits())

    found = excursions(state, lobster_limits())
    assert [(e.started_at, e.ended_at) for e in found] == [(at(0), at(60))]
    retracted = [e for e in late if e.step == "retracted"]
    assert [e.started_at for e in retracted] == [at(40)]
    assert retracted[0].superseded_by == found[0].id
    assert {e.step for e in late if e.id == found[0].id} == {"updated"}


def test_late_in_range_readings_split_an_excursion() -> None:
    # Nothing arrived from minute 25 to 34; the excursion seems to run from 0 to 60.
    state, events = run_one_by_one(series(0, [9.0] * 25) + series(35, [9.0] * 25 + [3.0] * 10))
    assert len({e.id for e in events}) == 1

    cool = series(25, [2.0] * 10)  # the missing minutes were back in range
    state, late = apply_readings(state, cool, lobster_limits())

    found = excursions(state, lobster_limits())
    assert [(e.started_at, e.ended_at) for e in found] == [(at(0), at(25)), (at(35), at(60))]
    assert {(e.started_at, e.step) for e in late} == {(at(0), "updated"), (at(35), "closed")}


def test_state_survives_json_and_scoring_continues_identically() -> None:
    readings = series(0, [3.0] * 5 + [9.0] * 30 + [3.0] * 10)
    config = ScoringConfig(checkpoint_every=8)  # sealed segments in the stored state
    _, straight = run_one_by_one(readings, config=config)

    state, first_half = run_one_by_one(readings[:20], config=config)
    table: dict[str, bytes] = {}
    writes = write(StoredState(0, state), table.get)
    table.update(writes.puts)
    restored = read_state(table[state.shipment_id], table.get).state
    _, second_half = run_one_by_one(readings[20:], state=restored, config=config)
    assert first_half + second_half == straight


def test_state_is_bounded_by_the_horizon_and_older_readings_are_ignored() -> None:
    config = ScoringConfig(horizon_h=1.0, checkpoint_every=16)
    readings = series(0, [3.0] * 550) + series(570, [3.0] * 30)  # 10 hours, a gap at 550-569
    state, _ = run_one_by_one(readings, config=config)
    device = state.devices[DEVICE]
    assert len(device.samples) <= 60 + 2 * 16
    assert len(device.segments) <= 60 / 16 + 3

    state, events = apply_readings(state, series(100, [12.0] * 30), lobster_limits(), config)
    assert events == [] and device.too_late == 30
    state, events = apply_readings(state, series(550, [12.0] * 20), lobster_limits(), config)
    assert steps(events) == [("temp_high", "closed", "critical")]  # within the horizon: scored
    assert events[0].found_late and events[0].started_at == at(550)


def test_excursions_of_two_devices_are_separate() -> None:
    warm = series(0, [9.0] * 30, device="TRK-A")
    cool = series(0, [3.0] * 30, device="TRK-B")
    state, _ = apply_readings(new_state(SHIPMENT), warm + cool, lobster_limits())
    assert [e.device_id for e in excursions(state, lobster_limits())] == ["TRK-A"]


def test_flapping_around_the_critical_limit_still_turns_critical() -> None:
    # 9.7 is inside the critical hysteresis band (9.5-10): the critical run is not broken.
    readings = series(0, [3.0] * 5 + [10.2, 9.7] * 4 + [3.0] * 10)
    _, events = run_one_by_one(readings)
    assert steps(events) == [("temp_high", "opened", "critical"), ("temp_high", "closed", "critical")]
    assert events[0].event_time == at(10)  # critical since minute 5, for 5 minutes


def test_events_survive_json() -> None:
    _, events = run_one_by_one(series(0, [3.0] * 5 + [9.0] * 30 + [3.0] * 10))
    assert events
    for event in events:
        assert ExcursionEvent.model_validate_json(event.model_dump_json()) == event
        assert event.excursion().id == event.id
