"""Property: any arrival order and batching of the same readings gives the same excursions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.excursion import Excursion, ExcursionEvent, ExcursionLimits
from schemas.reading import Reading
from services.excursions import scoring
from services.excursions.scoring import ScoringConfig, apply_each, apply_readings, excursions, new_state
from services.excursions.state import Sample, ShipmentState
from services.excursions.storage import StoredState, write
from tests.unit.excursions.scenarios import SHIPMENT, at, latest_by_id, lobster_limits, reading

# Few levels around every limit, so that excursions, blips and flapping all happen.
TEMPS = [3.0, 4.4, 4.7, 5.3, 7.0, 9.0, 10.2, 11.0, 0.3, -0.2, -0.7, -1.2, -3.0]
HUMIDITY = [None, 85.0, 71.0, 69.0, 60.0]
STEPS_MIN = [0.5, 1.0, 2.0, 3.0, 7.0]
CONFIG = ScoringConfig(checkpoint_every=3)  # many checkpoints: resume points get exercised


@st.composite
def device_history(draw: st.DrawFn, device: str) -> list[Reading]:
    count = draw(st.integers(min_value=1, max_value=70))
    # Runs of one level make excursions long enough to open, then close.
    minute, readings = 0.0, list[Reading]()
    while len(readings) < count:
        temp = draw(st.sampled_from(TEMPS))
        humidity = draw(st.sampled_from(HUMIDITY))
        for _ in range(draw(st.integers(min_value=1, max_value=25))):
            minute += draw(st.sampled_from(STEPS_MIN))
            readings.append(reading(minute, temp, humidity, device=device))
    return readings[:count]


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[Reading], list[list[Reading]]]:
    """All readings in time order, and the same (plus duplicates) shuffled into batches."""
    readings = draw(device_history("TRK-A"))
    if draw(st.booleans()):
        readings += draw(device_history("TRK-B"))
    duplicates = draw(st.lists(st.sampled_from(readings), max_size=10))
    shuffled = draw(st.permutations(readings + duplicates))
    cuts = sorted(draw(st.lists(st.integers(0, len(shuffled)), max_size=12)))
    bounds = [0, *cuts, len(shuffled)]
    batches = [shuffled[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    return sorted(readings, key=lambda r: r.time), batches


def without_revision(found: list[Excursion]) -> list[dict[str, object]]:
    return [e.model_dump(exclude={"revision"}) for e in found]


def as_messages(batches: list[list[Reading]]) -> list[list[Reading]]:
    """Each batch as one upload: its readings all received at one time, later than any reading."""
    return [[r.model_copy(update={"received_at": at(100_000 + number)}) for r in batch]
            for number, batch in enumerate(batches)]


def assert_tells(told: list[ExcursionEvent], expected: list[Excursion]) -> None:
    """A consumer upserting by id (highest revision wins) holds the same excursions: exactly
    for closed ones; open ones with the right lifecycle state."""
    held = latest_by_id(told)
    assert set(held) == {e.id for e in expected}
    for excursion in expected:
        record = held[excursion.id].excursion()
        if excursion.ended_at is not None:
            assert record.model_dump(exclude={"revision"}) == excursion.model_dump(exclude={"revision"})
        else:
            assert (record.severity, record.started_at, record.ended_at) == (
                excursion.severity,
                excursion.started_at,
                None,
            )


def _as_batches(state: ShipmentState, batches: list[list[Reading]],
                limits: ExcursionLimits) -> tuple[ShipmentState, list[ExcursionEvent]]:
    """Each batch in one ``apply_readings`` call (what the core reports a batch leaves)."""
    told: list[ExcursionEvent] = []
    for batch in batches:
        state, events = apply_readings(state, batch, limits, CONFIG)
        told.extend(events)
    return state, told


def _as_uploads(state: ShipmentState, batches: list[list[Reading]],
                limits: ExcursionLimits) -> tuple[ShipmentState, list[ExcursionEvent]]:
    """Each batch as one upload (one ``received_at``) through ``apply_each``, as the processor
    scores a record: a message's late readings are re-scored together."""
    told: list[ExcursionEvent] = []
    for message in as_messages(batches):
        state, events = apply_each(state, message, limits, CONFIG)
        told.extend(events)
    return state, told


@pytest.mark.parametrize("score", [_as_batches, _as_uploads])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=arrivals())
def test_any_order_and_batching_gives_the_same_excursions(
    score: Callable[[ShipmentState, list[list[Reading]], ExcursionLimits],
                    tuple[ShipmentState, list[ExcursionEvent]]],
    case: tuple[list[Reading], list[list[Reading]]],
) -> None:
    in_order, batches = case
    limits = lobster_limits()
    reference = new_state(SHIPMENT)
    for item in in_order:
        reference, _ = apply_readings(reference, [item], limits, CONFIG)
    expected = excursions(reference, limits)

    state, told = score(new_state(SHIPMENT), batches, limits)
    assert without_revision(excursions(state, limits)) == without_revision(expected)
    assert_tells(told, expected)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrivals())
def test_scoring_a_batch_each_reading_alone_equals_one_call_per_reading(
    case: tuple[list[Reading], list[list[Reading]]],
) -> None:
    """``apply_each`` (one pass over a record's readings, each received at a time of its own)
    tells exactly what one ``apply_readings`` call per reading told, in the same order, and
    leaves the same state."""
    _, batches = case
    (each, told_each), (one_by_one, told_one_by_one) = _each_and_one_by_one(batches, lobster_limits())
    assert told_each == told_one_by_one
    assert _stored(each) == _stored(one_by_one)


Told = tuple[ShipmentState, list[ExcursionEvent]]


def _each_and_one_by_one(batches: list[list[Reading]], limits: ExcursionLimits) -> tuple[Told, Told]:
    """The batches through ``apply_each``, and reading by reading through ``apply_readings``."""
    one_by_one, told_one_by_one = new_state(SHIPMENT), []
    each, told_each = new_state(SHIPMENT), []
    for batch in batches:
        for item in batch:
            one_by_one, events = apply_readings(one_by_one, [item], limits, CONFIG)
            told_one_by_one.extend(events)
        each, events = apply_each(each, batch, limits, CONFIG)
        told_each.extend(events)
    return (each, told_each), (one_by_one, told_one_by_one)


def _stored(state: ShipmentState) -> list[tuple[str, bytes]]:
    """The state as the processor stores it (header and segments): segments compare by content."""
    return write(StoredState(0, state), {}.get).puts


def test_uploads_in_order_are_told_reading_by_reading() -> None:
    """Readings newer than everything scored are scored one at a time, also when a message
    holds many: an excursion that opens and closes within one upload is told as opened, then
    as closed."""
    limits = lobster_limits()
    temps = [3.0] * 5 + [9.0] * 40 + [3.0] * 20
    history = [reading(float(minute), temp) for minute, temp in enumerate(temps)]
    messages = as_messages([history[i:i + 25] for i in range(0, len(history), 25)])
    (_, told_each), (_, told_one_by_one) = _each_and_one_by_one(messages, limits)
    assert [e.step for e in told_each] == ["opened", "closed"]
    assert told_each == told_one_by_one


def test_an_overtaken_upload_is_rescored_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tracker's message of 100 readings that arrives after the next one is merged into the
    device's history in one re-scoring, not one per reading, and the freeze in it is found late."""
    rescores: list[int] = []
    original = scoring._DeviceScorer._rescore

    def counted(self: scoring._DeviceScorer, fresh: list[Sample]) -> list[ExcursionEvent]:
        rescores.append(len(fresh))
        return original(self, fresh)

    monkeypatch.setattr(scoring._DeviceScorer, "_rescore", counted)
    limits = lobster_limits()
    temps = [3.0] * 40 + [-3.0] * 40 + [3.0] * 120
    history = [reading(float(minute), temp) for minute, temp in enumerate(temps)]
    first, second = as_messages([history[:100], history[100:]])
    state, told = new_state(SHIPMENT), []
    for message in (second, first):  # the first upload overtaken by the second
        state, events = apply_each(state, message, limits, ScoringConfig())
        told.extend(events)
    assert rescores == [100]
    (freeze,) = excursions(state, limits)
    assert (freeze.kind, freeze.started_at, freeze.ended_at) == ("temp_low", at(40), at(80))
    held = latest_by_id(told)
    assert held[freeze.id].found_late and held[freeze.id].excursion().ended_at == at(80)
    assert held[freeze.id].received_at - at(0) == timedelta(minutes=100_000)
