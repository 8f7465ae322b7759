"""The stream's glue scores a batch of one shipment's readings in one step: the same events
and the same stored state as one reading at a time, with the device's header written once."""

from __future__ import annotations

from services.excursions.processor import ExcursionProcessor, StateChange
from services.excursions.scoring import ScoringConfig
from services.excursions.storage import device_key, is_header_key
from services.profiles.catalog import load_profiles
from tests.unit.excursions.scenarios import DEVICE, SHIPMENT, series
from tests.unit.excursions.scenarios import reading as reading_at

# 20 min in range, 40 min at 11 C (critical after 5 min), then back in range for good.
TEMPS = [3.0] * 20 + [11.0] * 40 + [3.0] * 60


class _Table(dict[str, bytes]):
    def apply(self, step: StateChange) -> None:
        for key, value in step.puts:
            self[key] = value
        for key in step.deletes:
            self.pop(key, None)


def _one_by_one() -> tuple[list[tuple[str, str, str]], _Table, int]:
    processor, table, header_writes = ExcursionProcessor(load_profiles()), _Table(), 0
    events: list[tuple[str, str, str]] = []
    for reading in series(0, TEMPS):
        step = processor.on_readings([reading], None, table.get(SHIPMENT), 3, table.get)
        assert step is not None
        header_writes += sum(key == device_key(SHIPMENT, DEVICE) for key, _ in step.puts)
        table.apply(step)
        events += [(e.kind, e.step, e.severity) for e in step.events]
    return events, table, header_writes


def _in_batches(size: int) -> tuple[list[tuple[str, str, str]], _Table, int]:
    processor, table, header_writes = ExcursionProcessor(load_profiles()), _Table(), 0
    readings = series(0, TEMPS)
    events: list[tuple[str, str, str]] = []
    for start in range(0, len(readings), size):
        step = processor.on_readings(readings[start:start + size], None, table.get(SHIPMENT), 3, table.get)
        assert step is not None
        header_writes += sum(key == device_key(SHIPMENT, DEVICE) for key, _ in step.puts)
        table.apply(step)
        events += [(e.kind, e.step, e.severity) for e in step.events]
    return events, table, header_writes


def test_a_batch_scores_like_its_readings_one_at_a_time_and_writes_the_device_header_once() -> None:
    events, table, writes = _one_by_one()
    batched_events, batched_table, batched_writes = _in_batches(25)

    assert ("temp_high", "opened", "critical") in events
    assert ("temp_high", "closed", "critical") in events
    assert batched_events == events
    assert batched_table == table
    assert writes == len(TEMPS)
    assert batched_writes == -(-len(TEMPS) // 25)


def test_an_excursion_that_opens_and_closes_within_one_batch_is_told_both_steps() -> None:
    events, table, _ = _one_by_one()
    batched_events, batched_table, batched_writes = _in_batches(len(TEMPS))

    assert batched_events == events
    assert batched_table == table
    assert batched_writes == 1


def test_an_unbound_batch_is_not_scored() -> None:
    reading = series(0, [3.0])[0].model_copy(update={"shipment_id": None})
    assert ExcursionProcessor(load_profiles()).on_readings([reading], None, None, 0, lambda key: None) is None
    assert ExcursionProcessor(load_profiles()).on_readings([], None, None, 0, lambda key: None) is None


def test_a_reading_whose_history_is_lost_is_skipped_and_the_rest_of_its_batch_scored() -> None:
    config = ScoringConfig(checkpoint_every=4)
    table = _Table()
    processor = ExcursionProcessor(load_profiles(), config=config)
    for step in (processor.on_readings([r], None, table.get(SHIPMENT), 3, table.get) for r in series(0, [3.0] * 20)):
        assert step is not None
        table.apply(step)
    for key in [key for key in table if not is_header_key(key) and key != device_key(SHIPMENT, DEVICE)]:
        del table[key]  # the sealed segments are gone: a late reading cannot be re-scored
    late, live = reading_at(1.5, 11.0, received_minute=20.5), reading_at(20, 3.0, received_minute=21)

    one_by_one, alone = _Table(table), ExcursionProcessor(load_profiles(), config=config)
    assert alone.on_readings([late], None, one_by_one.get(SHIPMENT), 3, one_by_one.get) is None
    expected = alone.on_readings([live], None, one_by_one.get(SHIPMENT), 3, one_by_one.get)
    assert expected is not None
    one_by_one.apply(expected)

    batched = ExcursionProcessor(load_profiles(), config=config).on_readings(
        [late, live], None, table.get(SHIPMENT), 3, table.get)
    assert batched is not None
    table.apply(batched)
    assert batched.events == expected.events
    assert table == one_by_one
