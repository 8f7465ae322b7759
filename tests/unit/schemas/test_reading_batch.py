"""The readings record (one MQTT message's readings of one shipment) and its invariants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas.reading import Reading, ReadingBatch

AT = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def _reading(device: str = "TRK-1", shipment: str | None = "SHP-1", minute: int = 0) -> Reading:
    return Reading(device_id=device, shipment_id=shipment, time=AT.replace(minute=minute), temp_c=3.0,
                   received_at=AT)


def test_a_batch_round_trips_and_is_keyed_by_its_shipment() -> None:
    batch = ReadingBatch(readings=[_reading(minute=m) for m in range(3)])
    again = ReadingBatch.model_validate_json(batch.model_dump_json())
    assert again == batch and again.key == "SHP-1" and again.device_id == "TRK-1"
    assert ReadingBatch(readings=[_reading(shipment=None)]).key == "device:TRK-1"


def test_one_batch_is_one_device_and_one_shipment() -> None:
    with pytest.raises(ValidationError, match="share one device and one shipment"):
        ReadingBatch(readings=[_reading(), _reading(shipment="SHP-2", minute=1)])
    with pytest.raises(ValidationError, match="share one device and one shipment"):
        ReadingBatch(readings=[_reading(), _reading(device="TRK-2", minute=1)])
    with pytest.raises(ValidationError):
        ReadingBatch(readings=[])


def test_a_record_of_one_reading_from_before_batches_still_reads() -> None:
    single = _reading()
    assert ReadingBatch.model_validate_json(single.model_dump_json()).readings == [single]
    with pytest.raises(ValidationError):
        ReadingBatch.model_validate_json(b'{"temp_c": 3}')
