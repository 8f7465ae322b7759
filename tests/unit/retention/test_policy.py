from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.retention.policy import plan

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def test_apache_build_drops_but_never_compresses():
    todo = plan(NOW, retention_days=30, compress_after_days=7, license="apache")
    assert todo.drop_before == NOW - timedelta(days=30)
    assert todo.compress_before is None


def test_full_build_compresses_what_it_keeps():
    todo = plan(NOW, retention_days=30, compress_after_days=7, license="timescale")
    assert todo.compress_before == NOW - timedelta(days=7)


def test_zero_days_keeps_everything_and_never_compresses():
    todo = plan(NOW, retention_days=0, compress_after_days=0, license="timescale")
    assert todo.drop_before is None and todo.compress_before is None


def test_no_compression_of_what_is_dropped_anyway():
    assert plan(NOW, retention_days=3, compress_after_days=7, license="timescale").compress_before is None
