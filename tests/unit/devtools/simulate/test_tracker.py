"""What the trackers publish: valid samples, silence in the air, shuffled backlogs, noise."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from devtools.simulate.fleet import FleetOptions, SimShipment, plan_fleet
from devtools.simulate.geography import Site, distance_km
from devtools.simulate.scenarios import SCENARIOS
from devtools.simulate.tracker import Misbehaviour, PublishAction
from pydantic import ValidationError

from services.ingest.decoding import decode_message
from tests.unit.devtools.simulate.payloads import decode, topic_device

START = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def fleet() -> list[SimShipment]:
    # A high share of SenML and of two-tracker boxes, so both paths are well exercised.
    options = FleetOptions(senml_share=0.5, second_tracker_share=0.5)
    return plan_fleet(21, 12, SCENARIOS, START, options)


@pytest.fixture(scope="module")
def published(fleet: list[SimShipment]) -> dict[str, list[PublishAction]]:
    return {s.id: list(s.actions()) for s in fleet}


def test_publications_come_in_time_order_on_each_devices_topic(
    fleet: list[SimShipment], published: dict[str, list[PublishAction]]
) -> None:
    formats: Counter[str] = Counter()
    for shipment in fleet:
        actions = published[shipment.id]
        assert [a.sim_time for a in actions] == sorted(a.sim_time for a in actions)
        for action in actions:
            assert topic_device(action.topic) == action.device_id
            assert action.topic.startswith("coldchain/v1/devices/")
            formats[action.topic.rsplit("/", 1)[1]] += 1
    assert formats["telemetry"] > 0 and formats["senml"] > 0


def test_every_sample_but_the_flagged_malformed_ones_is_valid(
    published: dict[str, list[PublishAction]],
) -> None:
    kinds: Counter[str] = Counter()
    for actions in published.values():
        for action in actions:
            kinds[action.kind] += 1
            if action.kind == "malformed":
                with pytest.raises((ValidationError, ValueError)):
                    decode(action.topic, action.payload)
                assert action.defect
            else:
                samples = decode(action.topic, action.payload)
                assert len(samples) == action.samples
                assert all(s.temp_c is not None for s in samples)
    assert kinds["malformed"] > 0 and kinds["duplicate"] > 0 and kinds["backlog"] > 0


def test_the_ingest_decoder_accepts_exactly_the_unflagged_payloads(
    published: dict[str, list[PublishAction]],
) -> None:
    for actions in published.values():
        for action in actions:
            decoded = decode_message(action.topic, action.payload, action.sim_time)
            if action.kind == "malformed":
                assert decoded.readings == [] and len(decoded.refused) == 1
            else:
                assert decoded.refused == [] and len(decoded.readings) == action.samples


def test_the_distinct_readings_are_exactly_the_samples_taken(
    fleet: list[SimShipment], published: dict[str, list[PublishAction]]
) -> None:
    for shipment in fleet:
        tally = shipment.tally()
        received: Counter[tuple[str, datetime]] = Counter()
        for action in published[shipment.id]:
            if action.kind != "malformed":
                received.update((s.device_id, s.ts) for s in decode(action.topic, action.payload))
        taken = {(t.device_id, s.ts) for t in shipment.trackers for s in shipment.samples(t)}
        assert set(received) == taken
        assert sum(received.values()) - len(received) == tally.repeated_samples
        assert sum(tally.readings.values()) == len(taken)
        assert tally.malformed == sum(a.kind == "malformed" for a in published[shipment.id])


def test_trackers_are_silent_in_the_air_and_upload_shuffled_batches_on_landing(
    fleet: list[SimShipment], published: dict[str, list[PublishAction]]
) -> None:
    shuffled = 0
    for shipment in fleet:
        flights = shipment.itinerary.airborne()
        for action in published[shipment.id]:
            in_air = any(f.start <= action.sim_time < f.end for f in flights)
            assert not in_air, f"{action.device_id} published in flight"
            if action.kind != "backlog":
                continue
            document = json.loads(action.payload)
            assert isinstance(document, list)
            landed = max(f.end for f in flights if f.end <= action.sim_time)
            assert action.sim_time - landed <= timedelta(minutes=11)
            times = [s.ts for s in decode(action.topic, action.payload)]
            shuffled += times != sorted(times)
        for tracker in shipment.trackers:
            airborne = [s for s in shipment.samples(tracker) if s.airborne]
            assert len(airborne) > 60  # hours of readings taken in flight...
    assert shuffled > 0  # ...and delivered in any order


def test_live_samples_are_sent_as_they_are_taken(
    fleet: list[SimShipment], published: dict[str, list[PublishAction]]
) -> None:
    for shipment in fleet:
        for action in published[shipment.id]:
            if action.kind == "live":
                (sample,) = decode(action.topic, action.payload)
                lag = action.sim_time - sample.ts
                assert timedelta(seconds=-100) < lag < timedelta(seconds=100)  # clock skew


def test_device_clocks_are_skewed_and_samples_are_spaced_by_the_interval(
    fleet: list[SimShipment],
) -> None:
    skews = []
    for shipment in fleet:
        for tracker in shipment.trackers:
            samples = list(shipment.samples(tracker))
            offsets = [(s.ts - s.taken_at).total_seconds() for s in samples]
            assert max(offsets) - min(offsets) < 6  # drift of a few ppm, whole seconds
            skews.append(offsets[0])
            steps = [b.taken_at - a.taken_at for a, b in zip(samples, samples[1:], strict=False)]
            ordinary = [d for d in steps if d < timedelta(minutes=30)]
            assert all(abs(d - tracker.interval) <= timedelta(seconds=3) for d in ordinary)
    assert max(skews) - min(skews) > 30


def test_gps_fixes_are_noisy_but_close_at_a_standstill(fleet: list[SimShipment]) -> None:
    for shipment in fleet:
        plant = shipment.itinerary.segments[0].origin
        tracker = shipment.trackers[0]
        at_plant = [
            s for s in shipment.samples(tracker)
            if s.taken_at < shipment.itinerary.segments[0].end and s.lat is not None
        ]
        fixes = {(s.lat, s.lon) for s in at_plant}
        assert len(fixes) == len(at_plant)  # noise: no two fixes identical
        for s in at_plant:
            assert s.lat is not None and s.lon is not None
            assert distance_km(plant, Site("", "", s.lat, s.lon)) < 2.0


def test_malformed_share_follows_the_setting() -> None:
    def share(malformed: float) -> float:
        options = FleetOptions(misbehaviour=Misbehaviour(malformed=malformed, duplicate=0.0))
        actions = [a for s in plan_fleet(4, 3, ["normal"], START, options) for a in s.actions()]
        live = sum(a.kind == "live" for a in actions)
        return sum(a.kind == "malformed" for a in actions) / live

    assert share(0.0) == 0.0
    assert 0.15 < share(0.2) < 0.25
