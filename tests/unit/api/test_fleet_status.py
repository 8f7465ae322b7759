from __future__ import annotations

from datetime import UTC, datetime

from services.api.fleet_status import OpenExcursion, fleet_state, worst_severity

SEEN = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
WARM = OpenExcursion("temp_high", "warning")
SILENT = OpenExcursion("sensor_silent", "warning")


def test_an_open_excursion_outranks_risk_and_silence():
    assert fleet_state([WARM, SILENT], at_risk=True, last_reading_at=SEEN) == "excursion"


def test_at_risk_outranks_silence():
    assert fleet_state([SILENT], at_risk=True, last_reading_at=SEEN) == "at_risk"


def test_silent_when_the_processor_says_so_or_nothing_was_ever_heard():
    assert fleet_state([SILENT], at_risk=False, last_reading_at=SEEN) == "silent"
    assert fleet_state([], at_risk=False, last_reading_at=None) == "silent"


def test_ok_otherwise():
    assert fleet_state([], at_risk=False, last_reading_at=SEEN) == "ok"


def test_worst_severity():
    assert worst_severity([]) is None
    assert worst_severity([WARM]) == "warning"
    assert worst_severity([WARM, OpenExcursion("temp_low", "critical")]) == "critical"
