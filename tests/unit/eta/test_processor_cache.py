"""The ETA processor keeps the state it last handed out parsed, and trusts it only for the
very object the table gives back: any other value (recovered from the changelog, written by
another worker) is parsed as stored."""

from __future__ import annotations

import copy

from bench.trips import TripPlan, halifax_to_hangzhou, simulate
from services.eta.parameters import EtaParameters
from services.eta.processor import EtaProcessor, JsonObject
from services.profiles.catalog import load_profiles


def _processor() -> EtaProcessor:
    return EtaProcessor(EtaParameters(), load_profiles())


def test_the_cached_state_gives_what_parsing_the_stored_json_gives() -> None:
    ship = halifax_to_hangzhou(deliver_within_h=48)
    readings = simulate(TripPlan(shipment=ship, dwell_h=[0.5, 3.0, 4.0], travel_h=[0.7, 15.0, 3.0],
                                 sample_min=10.0)).readings
    shipment = {**ship.model_dump(mode="json"), "created_at": ship.packed_at.isoformat()}
    cached, parsing = _processor(), _processor()
    kept: JsonObject | None = None
    copied: JsonObject | None = None
    for reading in readings:
        by_identity = cached.on_readings([reading], shipment, kept)
        by_copy = parsing.on_readings([reading], shipment, copied)  # never the object it handed out
        assert by_identity is not None and by_copy is not None
        assert by_identity.state == by_copy.state
        assert by_identity.updates == by_copy.updates
        kept, copied = by_identity.state, copy.deepcopy(by_copy.state)
    assert len(readings) > 100


def test_a_state_it_did_not_hand_out_is_read_as_stored() -> None:
    ship = halifax_to_hangzhou(deliver_within_h=48)
    readings = simulate(TripPlan(shipment=ship, dwell_h=[0.5, 3.0, 4.0], travel_h=[0.7, 15.0, 3.0],
                                 sample_min=10.0)).readings
    shipment = {**ship.model_dump(mode="json"), "created_at": ship.packed_at.isoformat()}
    worker = _processor()
    own = worker.on_readings([readings[0]], shipment, None)
    other = _processor().on_readings([readings[50]], shipment, None)  # another worker's newer state
    assert own is not None and other is not None
    after_other = worker.on_readings([readings[51]], shipment, other.state)
    expected = _processor().on_readings([readings[51]], shipment, copy.deepcopy(other.state))
    assert after_other is not None and expected is not None
    assert after_other.state == expected.state
    # ...not as the state it had cached, which would have given something else.
    from_own = _processor().on_readings([readings[51]], shipment, copy.deepcopy(own.state))
    assert from_own is not None and from_own.state != after_other.state
