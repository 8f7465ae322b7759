"""The state's table layout: a header per shipment and per device, history in copy-on-write segments."""

from __future__ import annotations

import json
from dataclasses import asdict

from hypothesis import HealthCheck, given, settings

from schemas.excursion import ExcursionEvent
from schemas.reading import Reading
from services.excursions.scoring import ScoringConfig, apply_readings, excursions, new_state
from services.excursions.state import DeviceState, Run, SegmentBody, ShipmentState
from services.excursions.storage import (
    StoredState,
    Writes,
    decode_segment,
    device_key,
    encode_segment,
    read_state,
    segment_key,
    write,
)
from tests.unit.excursions.scenarios import DEVICE, SHIPMENT, lobster_limits, reading, series
from tests.unit.excursions.test_order_independence import arrivals, without_revision

CONFIG = ScoringConfig(checkpoint_every=4)
Table = dict[str, bytes]


def apply(table: Table, writes: Writes, deletes: bool = True) -> None:
    table.update(writes.puts)
    if deletes:
        for key in writes.deletes:
            table.pop(key, None)


def step(table: Table, batch: list[Reading]) -> tuple[Writes, list[ExcursionEvent]]:
    """One processor step from the table alone: read, score, lay out again."""
    raw = table.get(SHIPMENT)
    stored = read_state(raw, table.get) if raw is not None else StoredState(3, new_state(SHIPMENT))
    stored.state, events = apply_readings(stored.state, batch, lobster_limits(), CONFIG)
    return write(stored, table.get), events


def live_keys(table: Table) -> set[str]:
    """The shipment header, its devices' headers and the segments they point at."""
    stored = read_state(table[SHIPMENT], table.get)
    keys = {SHIPMENT}
    for device_id in stored.state.devices:
        keys.add(device_key(SHIPMENT, device_id))
        keys.update(segment_key(SHIPMENT, device_id, slot) for slot in stored.slots_of(device_id).slots)
    return keys


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrivals())
def test_a_state_stored_and_read_back_between_batches_scores_exactly_like_one_in_memory(
    case: tuple[list[Reading], list[list[Reading]]],
) -> None:
    _, batches = case
    in_memory: ShipmentState = new_state(SHIPMENT)
    told_in_memory: list[ExcursionEvent] = []
    table: Table = {}
    told_stored: list[ExcursionEvent] = []
    for batch in batches:
        in_memory, events = apply_readings(in_memory, batch, lobster_limits(), CONFIG)
        told_in_memory.extend(events)
        writes, events = step(table, batch)
        apply(table, writes)
        told_stored.extend(events)
        assert set(table) == live_keys(table)  # nothing left behind by re-scoring

    assert told_stored == told_in_memory
    restored = read_state(table[SHIPMENT], table.get).state
    assert without_revision(excursions(restored, lobster_limits())) == without_revision(
        excursions(in_memory, lobster_limits())
    )
    assert {d: device.samples for d, device in restored.devices.items()} == {
        d: device.samples for d, device in in_memory.devices.items()
    }


def test_an_in_order_reading_writes_its_device_header_and_seals_a_segment_every_checkpoint() -> None:
    table: Table = {}
    written = []
    for item in series(0, [3.0] * 12):
        writes, _ = step(table, [item])
        apply(table, writes)
        written.append([key for key, _ in writes.puts])
    header = device_key(SHIPMENT, DEVICE)
    assert written[0] == [header, SHIPMENT]  # the shipment header names the new device, after it
    assert written.count([header]) == 8  # the device's header only
    sealed = [keys for keys in written[1:] if len(keys) == 2]
    assert sealed == [[segment_key(SHIPMENT, DEVICE, n), header] for n in range(3)]  # its header last


def test_a_step_writes_only_the_devices_it_changed() -> None:
    table: Table = {}
    trackers = [f"TRK-{n:04d}" for n in range(1, 101)]
    apply(table, step(table, [reading(0, 3.0, device=d) for d in trackers])[0])
    before = dict(table)

    writes, _ = step(table, [reading(1, 3.5, device="TRK-0042")])
    assert [key for key, _ in writes.puts] == [device_key(SHIPMENT, "TRK-0042")]
    assert not writes.deletes
    apply(table, writes)
    assert {key for key in table if table[key] != before.get(key)} == {device_key(SHIPMENT, "TRK-0042")}
    restored = read_state(table[SHIPMENT], table.get).state
    assert list(restored.devices) == trackers  # in the order first seen
    assert len(restored.devices["TRK-0042"].samples) == 2
    assert len(restored.devices["TRK-0041"].samples) == 1


def test_a_segment_packs_its_samples_and_keeps_missing_values_missing() -> None:
    samples = [(1.5e9, 3.25, None), (1.5e9 + 60, None, 91.0), (1.5e9 + 61, -0.1, 70.5)]
    body = SegmentBody(Run([None, None, None]), samples)
    raw = encode_segment(body)
    assert decode_segment(raw) == body
    assert len(raw) - len(encode_segment(SegmentBody(body.run, []))) == 3 * 8 * len(samples)


def test_a_crash_before_the_header_is_written_replays_to_the_same_writes() -> None:
    table: Table = {}
    readings = series(0, [3.0] * 7 + [9.0] * 4)
    for item in readings[:7]:
        apply(table, step(table, [item])[0])
    sealing, _ = step(table, [readings[7]])
    assert len(sealing.puts) == 2
    apply(table, Writes(sealing.puts[:-1], []))  # the segment landed, the header did not

    replayed, _ = step(table, [readings[7]])
    assert replayed == sealing
    apply(table, replayed)
    for item in readings[8:]:
        apply(table, step(table, [item])[0])
    assert set(table) == live_keys(table)
    assert len(read_state(table[SHIPMENT], table.get).state.devices["TRK-0001"].samples) == 11


def test_slots_dropped_by_a_crash_after_the_header_are_deleted_by_the_next_step() -> None:
    table: Table = {}
    on_time = series(0, [3.0] * 6) + series(10, [3.0] * 12)
    for item in on_time:
        apply(table, step(table, [item])[0])
    late, _ = step(table, series(6, [9.0] * 4))  # the gap: re-scores and replaces segments
    assert late.deletes
    apply(table, late, deletes=False)  # crashed before deleting
    assert set(table) > live_keys(table)

    following, _ = step(table, series(22, [3.0]))
    assert set(late.deletes) <= set(following.deletes)
    apply(table, following)
    assert set(table) == live_keys(table)


def test_a_state_in_the_previous_single_document_layout_is_read_and_scoring_goes_on() -> None:
    readings = series(0, [3.0] * 5 + [9.0] * 30 + [3.0] * 10)
    straight = new_state(SHIPMENT)
    told = []
    for item in readings:
        straight, events = apply_readings(straight, [item], lobster_limits(), CONFIG)
        told.extend(events)

    old = new_state(SHIPMENT)
    first = []
    for item in readings[:20]:
        old, events = apply_readings(old, [item], lobster_limits(), CONFIG)
        first.extend(events)
    stored = read_state(previous_layout(old, partition=5), {}.get)
    assert stored.partition == 5
    rest = []
    for item in readings[20:]:
        stored.state, events = apply_readings(stored.state, [item], lobster_limits(), CONFIG)
        rest.extend(events)
    assert first + rest == told


def test_a_state_in_the_one_header_per_shipment_layout_is_rewritten_per_device_and_scoring_goes_on() -> None:
    readings = series(0, [3.0] * 5 + [9.0] * 30 + [3.0] * 10) + series(0, [3.0] * 45, device="TRK-0002")
    before, after = readings[:20] + readings[45:65], readings[20:45] + readings[65:]
    straight: Table = {}
    told = []
    for item in before + after:
        writes, events = step(straight, [item])
        apply(straight, writes)
        told.extend(events)

    old = new_state(SHIPMENT)
    first = []
    for item in before:
        old, events = apply_readings(old, [item], lobster_limits(), CONFIG)
        first.extend(events)
    table = format_2_layout(old, partition=3)
    old_segments = {key for key in table if key != SHIPMENT}
    assert old_segments  # the layout kept sealed segments under {shipment}/{slot}

    rest = []
    for item in after:
        writes, events = step(table, [item])
        apply(table, writes)
        rest.extend(events)
    assert first + rest == told
    assert not old_segments & set(table)  # deleted once rewritten
    assert set(table) == live_keys(table)
    restored = read_state(table[SHIPMENT], table.get).state
    assert {d: device.samples for d, device in restored.devices.items()} == {
        d: device.samples for d, device in read_state(straight[SHIPMENT], straight.get).state.devices.items()
    }


def _bookkeeping(device: DeviceState) -> dict[str, object]:
    """A device's fields besides its history, as both earlier layouts wrote them."""
    return {
        "closed": {key: asdict(value) for key, value in device.closed.items()},
        "published": {key: asdict(value) for key, value in device.published.items()},
        "last_received_at": device.last_received_at,
        "last_position": device.last_position,
        "last_speed_kmh": device.last_speed_kmh,
        "silence": asdict(device.silence) if device.silence else None,
        "too_late": device.too_late,
    }


def previous_layout(state: ShipmentState, partition: int) -> bytes:
    """What the processor stored before segments: one JSON document with every sample."""
    devices = {}
    for device_id, device in state.devices.items():
        devices[device_id] = {
            "device_id": device_id,
            "samples": [list(sample) for sample in device.samples],
            "checkpoints": [{"t": segment.t, "run": asdict(segment.body.run)} for segment in device.segments],
            "run": asdict(device.run),
            "since_checkpoint": len(device.segments[-1].body.samples),
            **_bookkeeping(device),
        }
    document = {"partition": partition, "state": {"shipment_id": state.shipment_id, "devices": devices}}
    return json.dumps(document).encode()


def format_2_layout(state: ShipmentState, partition: int) -> Table:
    """What the processor stored before device headers: one header per shipment with every
    device in it, sealed segments under ``{shipment}/{slot}``."""
    table: Table = {}
    devices = {}
    slot = 0
    for device_id, device in state.devices.items():
        sealed = []
        for segment in device.segments[:-1]:
            table[f"{SHIPMENT}/{slot}"] = encode_segment(segment.body)
            sealed.append([segment.t, slot])
            slot += 1
        tail = device.segments[-1]
        devices[device_id] = {
            "run": asdict(device.run),
            "sealed": sealed,
            "tail_t": tail.t,
            "tail": asdict(tail.body),
            **_bookkeeping(device),
        }
    header = {"format": 2, "partition": partition, "shipment_id": SHIPMENT, "next_slot": slot, "garbage": [],
              "devices": devices}
    table[SHIPMENT] = json.dumps(header, separators=(",", ":")).encode()
    return table
