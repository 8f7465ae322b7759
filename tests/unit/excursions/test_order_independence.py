"""Property: any arrival order and batching of the same readings gives the same excursions."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.excursion import Excursion
from schemas.reading import Reading
from services.excursions.scoring import ScoringConfig, apply_each, apply_readings, excursions, new_state
from services.excursions.state import ShipmentState
from services.excursions.storage import StoredState, write
from tests.unit.excursions.scenarios import SHIPMENT, latest_by_id, lobster_limits, reading

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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrivals())
def test_any_order_and_batching_gives_the_same_excursions(
    case: tuple[list[Reading], list[list[Reading]]],
) -> None:
    in_order, batches = case
    limits = lobster_limits()
    reference = new_state(SHIPMENT)
    for item in in_order:
        reference, _ = apply_readings(reference, [item], limits, CONFIG)
    expected = excursions(reference, limits)

    state, told = new_state(SHIPMENT), []
    for batch in batches:
        state, events = apply_readings(state, batch, limits, CONFIG)
        told.extend(events)
    found = excursions(state, limits)

    assert without_revision(found) == without_revision(expected)
    # A consumer upserting by id (highest revision wins) holds the same excursions:
    # exactly for closed ones; open ones with the right lifecycle state.
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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrivals())
def test_scoring_a_batch_each_reading_alone_equals_one_call_per_reading(
    case: tuple[list[Reading], list[list[Reading]]],
) -> None:
    """``apply_each`` (one pass over a record's readings) tells exactly what one
    ``apply_readings`` call per reading told, in the same order, and leaves the same state."""
    _, batches = case
    limits = lobster_limits()
    one_by_one, told_one_by_one = new_state(SHIPMENT), []
    each, told_each = new_state(SHIPMENT), []
    for batch in batches:
        for item in batch:
            one_by_one, events = apply_readings(one_by_one, [item], limits, CONFIG)
            told_one_by_one.extend(events)
        each, events = apply_each(each, batch, limits, CONFIG)
        told_each.extend(events)
    assert told_each == told_one_by_one
    assert _stored(each) == _stored(one_by_one)


def _stored(state: ShipmentState) -> list[tuple[str, bytes]]:
    """The state as the processor stores it (header and segments): segments compare by content."""
    return write(StoredState(0, state), {}.get).puts
