"""The reason a sink dead letter gives for a record that does not parse names the field and
what is wrong with it, not only how many errors there were."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.reading_wire import ReadingRecord
from services.sink.store import unreadable_detail

GOOD = (b'{"readings":[{"time":"2026-12-01T06:00:00Z","device_id":"TRK-1","temp_c":3.0,'
        b'"received_at":"2026-12-01T06:00:00Z"}]}')


def _refusal(raw: bytes) -> str:
    with pytest.raises(ValidationError) as caught:
        ReadingRecord.model_validate_json(raw)
    return unreadable_detail(caught.value)


def test_an_overflowing_number_is_named_with_its_field() -> None:
    detail = _refusal(GOOD.replace(b'"temp_c":3.0', b'"temp_c":1e999'))
    assert detail.startswith("readings.0.temp_c: ")
    assert "finite" in detail


def test_garbage_and_a_truncated_record_say_the_json_is_invalid() -> None:
    assert "Invalid JSON" in _refusal(b"\x00\xff not json")
    assert "Invalid JSON" in _refusal(GOOD[:-5])


def test_many_errors_are_counted_after_the_first() -> None:
    detail = _refusal(b'{"readings":[1,2,3]}')
    assert detail.startswith("readings.0: ")
    assert detail.endswith("(and 2 more)")
