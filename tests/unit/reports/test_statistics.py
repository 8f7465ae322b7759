from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.reports.statistics import Sample, combined_mkt, series_statistics

T0 = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)


def series(*points: tuple[float, float]) -> list[Sample]:
    return [Sample(T0 + timedelta(minutes=m), v) for m, v in points]


def test_a_crossing_counts_from_the_crossing():
    # 4 -> 6 over 10 min crosses 5 at minute 5: 5 min above, area 0.5 * 5 * 1.
    stats = series_statistics(series((0, 4.0), (10, 6.0)), 0.0, 5.0)
    assert stats.minutes_above == pytest.approx(5.0)
    assert stats.degree_minutes_above == pytest.approx(2.5)
    assert stats.minutes_below == 0


def test_below_the_low_limit_is_measured_like_above_the_high_one():
    stats = series_statistics(series((0, 1.0), (10, -1.0), (20, -1.0)), 0.0, 5.0)
    assert stats.minutes_below == pytest.approx(15.0)
    assert stats.degree_minutes_below == pytest.approx(0.5 * 5 * 1 + 10 * 1)
    assert stats.minimum == -1.0 and stats.maximum == 1.0


def test_a_long_gap_is_no_data_not_an_excursion():
    stats = series_statistics(series((0, 8.0), (300, 8.0), (301, 8.0)), 0.0, 5.0, max_gap=timedelta(minutes=30))
    assert stats.minutes_without_data == pytest.approx(300)
    assert stats.minutes_above == pytest.approx(1)
    assert stats.degree_minutes_above == pytest.approx(3)


def test_constant_temperature_has_itself_as_mkt_and_a_single_series_matches_combined():
    samples = series((0, 4.0), (10, 4.0), (20, 4.0))
    stats = series_statistics(samples, 0.0, 5.0, kinetic=True)
    assert stats.mkt_c == pytest.approx(4.0)
    assert combined_mkt([samples]) == pytest.approx(4.0)


def test_mkt_weighs_warmth_more_than_the_mean():
    stats = series_statistics(series((0, 0.0), (10, 10.0), (20, 0.0)), None, None, kinetic=True)
    assert stats.mean == pytest.approx(10 / 3)
    assert stats.mkt_c is not None and stats.mkt_c > 5.0  # interval-weighted: the line's mean is 5


def test_no_samples():
    stats = series_statistics([], 0.0, 5.0, kinetic=True)
    assert stats.count == 0 and stats.mean is None and stats.mkt_c is None
