"""The report's viability line from the shipment's ETA history (services/reports/loading.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.reports.loading import _viability

FIRST_GUESS = datetime(2026, 11, 10, 11, 8, tzinfo=UTC)
BACKLOG_SEEN = datetime(2026, 11, 10, 9, 31, tzinfo=UTC)


def _eta(state: str, lost_at: datetime | None = None, left_h: float = 18.1) -> dict[str, Any]:
    return {"viability_state": state, "viability_used_h": 20.0, "viability_remaining_at_eta_h": left_h,
            "viability_lost_at": lost_at, "viability_lost_reason": "freezing" if lost_at else None}


def test_lost_once_is_lost_in_the_report_with_the_best_estimate_of_when() -> None:
    history = [_eta("ok"), _eta("lost", FIRST_GUESS), _eta("lost", BACKLOG_SEEN), _eta("ok", left_h=16.0)]
    row = _viability(history)
    assert row is not None
    assert (row.state, row.lost_at, row.lost_reason) == ("lost", BACKLOG_SEEN, "freezing")
    assert row.remaining_at_eta_h == 16.0


def test_no_forecast_no_line_and_a_clean_trip_reads_ok() -> None:
    assert _viability([]) is None
    row = _viability([_eta("ok"), _eta("compromised")])
    assert row is not None and (row.state, row.lost_at) == ("compromised", None)
