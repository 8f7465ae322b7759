"""When a shipment's history is sealed (pure rule)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.integrity.sealing import SEAL_GRACE, Ended, due

DELIVER_BY = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)


def test_sealed_a_grace_after_the_first_of_delivered_cancelled_or_deliver_by() -> None:
    delivered = Ended("SHP-D", DELIVER_BY, DELIVER_BY - timedelta(hours=10), None)
    cancelled = Ended("SHP-C", DELIVER_BY, None, DELIVER_BY - timedelta(hours=30))
    overdue = Ended("SHP-O", DELIVER_BY, None, None)
    at = DELIVER_BY - timedelta(hours=10) + SEAL_GRACE
    assert due([delivered, cancelled, overdue], at) == ["SHP-D", "SHP-C"]
    assert due([overdue], DELIVER_BY + SEAL_GRACE) == ["SHP-O"]
    assert due([overdue], DELIVER_BY + SEAL_GRACE - timedelta(seconds=1)) == []
