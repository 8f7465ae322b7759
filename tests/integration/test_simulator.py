"""The simulator against the real pipeline: a small fleet registered through the API and
published through the real broker lands in TimescaleDB reading for reading."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from services.connections import parse_mqtt_url
from services.simulate.fleet import FleetOptions, SimShipment, fleet_span, plan_fleet
from services.simulate.mqtt_publisher import MqttFleetPublisher
from services.simulate.pacing import Pace, merged_actions
from services.simulate.replay import replay
from services.simulate.scenarios import ScenarioName
from services.simulate.tracker import Misbehaviour
from tests.harness.processes import wait_for
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration

SCENARIOS: list[ScenarioName] = ["normal", "tarmac-delay", "freezer-incident"]


def _plan(prefix: str) -> list[SimShipment]:
    """Three shipments ending an hour before now, so no sample is in the future. Sampling
    every 15 min keeps the fleet to about a thousand readings; misbehaviour is raised so a
    few malformed payloads and duplicates are certain."""
    options = FleetOptions(id_prefix=prefix, sample_interval=timedelta(minutes=15), stagger=timedelta(0),
                           misbehaviour=Misbehaviour(malformed=0.05, duplicate=0.05))
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    span = fleet_span(plan_fleet(7, 3, SCENARIOS, epoch, options))[1] - epoch
    start = datetime.now(UTC) - span - timedelta(hours=1)
    return plan_fleet(7, 3, SCENARIOS, start, options)


def test_simulated_fleet_is_stored_one_for_one(pipeline: Pipeline) -> None:
    fleet = _plan(f"SIMT{uuid.uuid4().hex[:6].upper()}")
    with pipeline.http() as api:
        for shipment in fleet:
            response = api.post("/api/v1/shipments",
                                json=shipment.registration.model_dump(mode="json", exclude_none=True))
            assert response.status_code == 201, response.text

    publisher = MqttFleetPublisher(parse_mqtt_url(pipeline.stack.env["COLDCHAIN_MQTT_ADMIN_URL"]))
    publisher.start(t.device_id for s in fleet for t in s.trackers)
    try:
        stats = replay(merged_actions(fleet), Pace(fleet[0].itinerary.start, speed=1e9), publisher)
        assert publisher.flush(30)
    finally:
        publisher.stop()
    assert publisher.refused == 0

    truth = {(t.device_id, sample.ts) for s in fleet for t in s.trackers for sample in s.samples(t)}
    tallies = [s.tally() for s in fleet]
    malformed = sum(t.malformed for t in tallies)
    assert malformed > 0 and stats.by_kind.get("duplicate", 0) > 0  # the fleet did misbehave
    assert len(truth) == sum(n for t in tallies for n in t.readings.values())
    devices = sorted({device for device, _ in truth})

    with psycopg.connect(pipeline.stack.database_url, autocommit=True) as conn:
        def stored() -> set[tuple[str, datetime]]:
            rows = conn.execute("SELECT device_id, time FROM readings WHERE device_id = ANY(%s)",
                                [devices]).fetchall()
            return {(device, time) for device, time in rows}

        def refused() -> int:
            row = conn.execute("SELECT count(*) FROM dead_letters WHERE device_id = ANY(%s)", [devices]).fetchone()
            return int(row[0]) if row else 0

        try:
            # Under a second on a quiet stack; the margin covers a consumer-group rebalance.
            wait_for(lambda: len(stored()) >= len(truth) and refused() >= malformed, 60, "the fleet's readings")
        except AssertionError:
            missing = truth - stored()
            raise AssertionError(f"stored {len(stored())} of {len(truth)} (missing e.g. {sorted(missing)[:3]}), "
                                 f"extra {sorted(stored() - truth)[:3]}; refused {refused()} of {malformed}") from None
        rows = conn.execute("SELECT count(*) FROM readings WHERE device_id = ANY(%s)", [devices]).fetchone()
        assert stored() == truth
        assert rows is not None and rows[0] == len(truth)  # each reading once, duplicates or not
        assert refused() == malformed
