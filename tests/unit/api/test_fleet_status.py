from __future__ import annotations

from datetime import UTC, datetime

from services.api.fleet_routes import filter_viability, summary_of
from services.api.fleet_status import History, OpenExcursion, fleet_state, state_text, viability_of, worst_severity

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


# --- what the board remembers ---------------------------------------------------------------

FROZE_ONCE = History(critical_excursions=1)


def test_lost_outranks_everything_and_reads_as_lost_not_as_hours():
    lost = History(critical_excursions=1, forecast_viability="lost", lost_reason="freezing")
    assert viability_of(lost) == "lost"
    assert fleet_state([WARM], at_risk=True, last_reading_at=SEEN, lost=True) == "lost"
    assert state_text("lost", lost) == "viability lost (freezing) · 1 critical excursion"


def test_a_closed_critical_excursion_is_never_plain_ok_again():
    state = fleet_state([], at_risk=False, last_reading_at=SEEN)
    assert state == "ok" and viability_of(FROZE_ONCE) == "compromised"
    assert state_text(state, FROZE_ONCE) == "ok · 1 critical excursion · viability compromised"
    assert state_text("silent", History(critical_excursions=2)) == (
        "silent · 2 critical excursions · viability compromised")


def test_a_clean_trip_is_plain_ok_and_a_compromised_forecast_says_so():
    assert state_text("ok", History()) == "ok" and viability_of(History()) == "ok"
    touched = History(forecast_viability="compromised")
    assert state_text("at_risk", touched) == "at risk · viability compromised"


def _row(shipment_id: str, critical: int, viability_state: str | None, reason: str | None = None) -> dict:
    party = {"name": "Shediac Lobster Co."}
    return {
        "body": {"id": shipment_id, "product": "live-lobster", "seller": party, "buyer": party,
                 "deliver_by": "2026-11-11T12:00:00Z"},
        "last_reading_at": SEEN, "last_temp_c": 2.0, "open_excursions": [],
        "eta": SEEN if viability_state else None, "phase": "moving", "leg_name": "YHZ -> PVG",
        "at_risk": False, "risk_reasons": [], "viability_remaining_at_eta_h": 18.1,
        "viability_used_h": 20.0, "remaining_km": 9000.0, "legs": [], "eta_event_time": SEEN,
        "viability_state": viability_state, "viability_lost_at": SEEN if reason else None,
        "viability_lost_reason": reason, "critical_excursions": critical,
    }


def test_the_fleet_row_of_the_demo_freeze_says_lost_and_the_filter_finds_it():
    rows = [summary_of(_row("SHP-FROZE", 1, "lost", "freezing")),
            summary_of(_row("SHP-CLOSED", 1, "ok")),
            summary_of(_row("SHP-CLEAN", 0, "ok")),
            summary_of(_row("SHP-NEW", 0, None))]
    froze, closed, clean, new = rows
    assert (froze["state"], froze["viability"], froze["viability_lost_reason"]) == ("lost", "lost", "freezing")
    assert closed["state"] == "ok" and closed["state_text"] == "ok · 1 critical excursion · viability compromised"
    assert (clean["state_text"], new["viability"], new["forecast"]) == ("ok", "ok", None)
    assert [r["id"] for r in filter_viability(rows, "lost")] == ["SHP-FROZE"]
    assert [r["id"] for r in filter_viability(rows, "compromised")] == ["SHP-CLOSED"]
    assert [r["id"] for r in filter_viability(rows, "ok")] == ["SHP-CLEAN", "SHP-NEW"]
