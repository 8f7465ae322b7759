from datetime import UTC, datetime, timedelta

import pytest
from devtools.simulate.fleet import FleetOptions, fleet_span, plan_fleet
from devtools.simulate.geography import ARRIVAL_AIRPORTS, HALIFAX
from devtools.simulate.scenarios import SCENARIOS

from schemas.shipment import ShipmentIn

START = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)


def fingerprint(seed: int, start: datetime = START) -> list[tuple[object, ...]]:
    fleet = plan_fleet(seed, 4, SCENARIOS, start)
    return [
        (s.registration.model_dump_json(), s.truth,
         [(a.sim_time, a.topic, a.payload, a.kind) for a in s.actions()])
        for s in fleet
    ]


def test_the_same_seed_gives_the_same_fleet_byte_for_byte() -> None:
    assert fingerprint(42) == fingerprint(42)


def test_another_seed_gives_another_fleet() -> None:
    assert fingerprint(42) != fingerprint(43)


def test_moving_the_start_moves_every_publication_and_nothing_else() -> None:
    shift = timedelta(days=3, hours=5)
    early = plan_fleet(9, 3, SCENARIOS, START)
    late = plan_fleet(9, 3, SCENARIOS, START + shift)
    for a, b in zip(early, late, strict=True):
        assert b.truth.arrived_at - a.truth.arrived_at == shift
        assert [e.start + shift for e in a.truth.excursions] == [e.start for e in b.truth.excursions]
        times_a = [x.sim_time for x in a.actions()]
        times_b = [x.sim_time for x in b.actions()]
        assert [t + shift for t in times_a] == times_b


def test_registrations_follow_the_contract_example() -> None:
    for shipment in plan_fleet(3, 8, SCENARIOS, START):
        body = ShipmentIn.model_validate_json(shipment.registration.model_dump_json())
        assert body.product == "live-lobster"
        assert body.devices == [t.device_id for t in shipment.trackers]
        assert body.deliver_by - body.packed_at == timedelta(hours=48)
        assert START <= body.packed_at <= START + timedelta(hours=3)
        first, *rest = body.waypoints
        assert (first.name, first.mode) == (HALIFAX.name, "road")
        assert all(stop.mode == "air" for stop in rest)
        assert rest[-1].name in {a.name for a in ARRIVAL_AIRPORTS.values()}
        assert body.destination.mode == "road"
        assert (body.seller.email, body.seller.phone) == ("ops@seller.example", "+19025550100")
        assert (body.buyer.email, body.buyer.phone) == ("qa@buyer.example", "+8657155500100")


def test_ids_are_prefixed_and_unique() -> None:
    fleet = plan_fleet(3, 20, ["normal"], START, FleetOptions(id_prefix="RUN7"))
    ids = [s.id for s in fleet]
    devices = [t.device_id for s in fleet for t in s.trackers]
    assert ids[0] == "RUN7-0001" and len(set(ids)) == 20
    assert len(set(devices)) == len(devices) and all(d.startswith("RUN7-") for d in devices)


def test_routes_vary_across_the_fleet() -> None:
    fleet = plan_fleet(1, 40, ["normal"], START)
    airports = {s.registration.waypoints[-1].name for s in fleet}
    via_anchorage = sum(len(s.registration.waypoints) == 3 for s in fleet)
    assert len(airports) == 3
    assert 0 < via_anchorage < 40


def test_the_span_covers_every_publication() -> None:
    fleet = plan_fleet(2, 6, SCENARIOS, START)
    first, last = fleet_span(fleet)
    times = [a.sim_time for s in fleet for a in s.actions()]
    assert first <= min(times) and max(times) <= last


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        plan_fleet(1, 1, ["normal"], datetime(2026, 11, 9))  # noqa: DTZ001
    with pytest.raises(ValueError, match="unknown"):
        plan_fleet(1, 1, ["hurricane"], START)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="scenario"):
        plan_fleet(1, 1, [], START)
