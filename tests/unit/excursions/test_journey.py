"""When the journey is over, a quiet tracker is not watched for silence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.excursions.journey import WATCH_PAST_DUE, journey_over
from tests.unit.excursions.test_flight import HANGZHOU, PVG, _shipment, _state_at

DUE = datetime(2026, 11, 11, 12, tzinfo=UTC)


def test_a_box_at_the_buyers_warehouse_has_arrived() -> None:
    assert journey_over(_shipment(), _state_at(HANGZHOU), DUE - timedelta(hours=5))


def test_a_box_still_on_its_way_before_it_is_due_is_watched() -> None:
    assert not journey_over(_shipment(), _state_at(PVG), DUE - timedelta(hours=5))
    assert not journey_over(_shipment(), _state_at(PVG), DUE + WATCH_PAST_DUE - timedelta(minutes=1))


def test_a_day_past_due_the_journey_counts_as_over() -> None:
    assert journey_over(_shipment(), _state_at(PVG), DUE + WATCH_PAST_DUE + timedelta(minutes=1))
