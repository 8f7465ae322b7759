"""The truth each scenario states, checked against the journey the simulator actually plays."""

from datetime import UTC, datetime, timedelta

import pytest
from devtools.simulate.fleet import TRACE_STEP, SimShipment, plan_fleet
from devtools.simulate.scenarios import SCENARIOS, ScenarioName

from services.profiles.catalog import builtin_profiles

START = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)
PROFILE = builtin_profiles()["live-lobster"]
SEEDS = range(12)


def fleet_of(scenario: ScenarioName) -> list[SimShipment]:
    return [s for seed in SEEDS for s in plan_fleet(seed, 1, [scenario], START)]


def minutes_where(shipment: SimShipment, test) -> float:  # type: ignore[no-untyped-def]
    return sum(1 for t in shipment.journey.box_trace if test(t)) * TRACE_STEP.total_seconds() / 60


@pytest.mark.parametrize("scenario", ["normal", "sensor-failure", "diverted-flight", "customs-hold"])
def test_the_box_stays_well_inside_the_nominal_band(scenario: ScenarioName) -> None:
    for shipment in fleet_of(scenario):
        trace = shipment.journey.box_trace
        assert 1.0 <= min(trace) and max(trace) <= 4.3, shipment.id
        for tracker in shipment.trackers:  # what the sensors report, with noise and bias
            temps = [s.temp_c for s in shipment.samples(tracker)]
            assert PROFILE.nominal.low_c < min(temps) and max(temps) < PROFILE.nominal.high_c


def test_a_normal_shipment_expects_nothing_and_is_on_time() -> None:
    for shipment in fleet_of("normal"):
        truth = shipment.truth
        assert truth.excursions == ()
        assert not truth.late and not truth.at_risk
        assert truth.arrived_at <= truth.deliver_by - timedelta(hours=3)
        assert truth.viability_used_h < PROFILE.viability.budget_h * 0.8


def test_a_tarmac_delay_warms_the_box_into_one_warning_per_device() -> None:
    nominal, critical = PROFILE.nominal, PROFILE.critical
    for shipment in fleet_of("tarmac-delay"):
        expected = shipment.truth.excursions
        assert [(e.device_id, e.kind, e.severity) for e in expected] == [
            (t.device_id, "temp_high", "warning") for t in shipment.trackers
        ]
        # Unambiguous: far longer above 5 C than the alarm delay, never near 10 C.
        assert minutes_where(shipment, lambda t: t > nominal.high_c) >= 4 * nominal.delay_min
        assert max(shipment.journey.box_trace) <= critical.high_c - 2
        apron = next(s for s in shipment.itinerary.segments if "apron" in s.label)
        assert apron.start <= expected[0].start <= apron.end
        assert expected[0].end > apron.end  # it takes a while to cool back down
        assert expected[0].peak_c == pytest.approx(max(shipment.journey.box_trace), abs=0.01)


def test_a_freezer_incident_chills_the_box_into_one_critical_per_device() -> None:
    critical = PROFILE.critical
    for shipment in fleet_of("freezer-incident"):
        expected = shipment.truth.excursions
        assert [(e.kind, e.severity) for e in expected] == [("temp_low", "critical")] * len(
            shipment.trackers
        )
        assert minutes_where(shipment, lambda t: t < critical.low_c) >= 10 * critical.delay_min
        assert min(shipment.journey.box_trace) <= critical.low_c - 1.5
        assert max(shipment.journey.box_trace) < PROFILE.nominal.high_c
        freezer = next(s for s in shipment.itinerary.segments if "frozen-goods" in s.label)
        assert freezer.ambient_c <= -20
        assert freezer.start <= expected[0].start <= freezer.end


def test_a_sensor_failure_silences_the_first_tracker_for_hours() -> None:
    for shipment in fleet_of("sensor-failure"):
        (silence,) = shipment.truth.excursions
        first = shipment.trackers[0]
        assert (silence.device_id, silence.kind) == (first.device_id, "sensor_silent")
        times = [s.ts for s in shipment.samples(first)]
        gaps = [(b - a, a, b) for a, b in zip(times, times[1:], strict=False)]
        longest, before, after = max(gaps)
        assert longest >= timedelta(hours=2)
        assert (before, after) == (silence.start, silence.end)
        # On the ground (not a flight), so the gap is never filled by a backlog.
        assert shipment.itinerary.segment_at(
            shipment.trackers[0].outages[0][0]
        ).kind == "hold"
        for other in shipment.trackers[1:]:
            other_times = [s.ts for s in shipment.samples(other)]
            assert max(b - a for a, b in zip(other_times, other_times[1:], strict=False)) < (
                timedelta(minutes=10)
            )


@pytest.mark.parametrize("scenario", ["diverted-flight", "customs-hold"])
def test_late_scenarios_miss_deliver_by_by_hours(scenario: ScenarioName) -> None:
    for shipment in fleet_of(scenario):
        truth = shipment.truth
        assert truth.excursions == ()
        assert truth.late and truth.at_risk
        assert truth.arrived_at >= truth.deliver_by + timedelta(hours=3)


def test_a_diverted_flight_lands_off_the_registered_route() -> None:
    for shipment in fleet_of("diverted-flight"):
        registered = {(p.lat, p.lon) for p in shipment.registration.waypoints}
        landed = shipment.itinerary.airborne()[-1].to
        assert (landed.lat, landed.lon) not in registered
        trucked_from = shipment.itinerary.first("truck_to_buyer").origin
        assert trucked_from == landed


@pytest.mark.parametrize("scenario", ["tarmac-delay", "freezer-incident", "sensor-failure"])
def test_incident_scenarios_still_arrive_on_time(scenario: ScenarioName) -> None:
    for shipment in fleet_of(scenario):
        assert shipment.truth.arrived_at <= shipment.truth.deliver_by - timedelta(hours=3)
        assert not shipment.truth.at_risk


def test_every_scenario_is_planned() -> None:
    fleet = plan_fleet(5, len(SCENARIOS) * 2, SCENARIOS, START)
    assert [s.scenario for s in fleet] == [*SCENARIOS, *SCENARIOS]
    assert [s.truth.scenario for s in fleet] == [s.scenario for s in fleet]


def test_a_silence_shows_only_if_it_lasts_long_enough_in_real_time() -> None:
    silent_after = timedelta(minutes=PROFILE.silence_after_min)
    (silence,) = fleet_of("sensor-failure")[0].truth.excursions
    (warm, *_) = fleet_of("tarmac-delay")[0].truth.excursions
    assert silence.observable_at(1.0, silent_after)
    assert not silence.observable_at(2400.0, silent_after)  # a 40 h trip in a minute
    assert warm.observable_at(2400.0, silent_after)


def test_a_reported_excursion_matches_the_truth_within_its_tolerance() -> None:
    (warm, *_) = fleet_of("tarmac-delay")[0].truth.excursions
    late_start = warm.start + warm.tolerance - timedelta(minutes=1)
    assert warm.matches("temp_high", "warning", late_start, None)
    assert warm.matches("temp_high", "warning", warm.start, warm.end)
    assert not warm.matches("temp_high", "critical", warm.start, warm.end)
    assert not warm.matches("temp_low", "warning", warm.start, warm.end)
    assert not warm.matches("temp_high", "warning", warm.start - 2 * warm.tolerance, None)
