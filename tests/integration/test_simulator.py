"""The simulator against the real pipeline: a small fleet registered through the API and
published through the real broker lands in TimescaleDB reading for reading, and the
pipeline finds what each scenario was designed to cause (its known truth)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from devtools.simulate.fleet import FleetOptions, SimShipment, fleet_span, plan_fleet
from devtools.simulate.mqtt_publisher import MqttFleetPublisher
from devtools.simulate.pacing import Pace, merged_actions
from devtools.simulate.replay import ReplayStats, replay
from devtools.simulate.scenarios import ScenarioName
from devtools.simulate.tracker import Misbehaviour

from services.connections import parse_mqtt_url
from tests.harness.processes import wait_for
from tests.integration.conftest import Pipeline

pytestmark = pytest.mark.integration

SCENARIOS: list[ScenarioName] = ["normal", "tarmac-delay", "freezer-incident", "customs-hold"]
TEMPERATURE_KINDS = ("temp_high", "temp_low")


def _plan(prefix: str) -> list[SimShipment]:
    """Four shipments ending an hour before now, so no sample is in the future. Sampling
    every 15 min keeps the fleet to about 1,500 readings; misbehaviour is raised so a
    few malformed payloads and duplicates are certain."""
    options = FleetOptions(id_prefix=prefix, sample_interval=timedelta(minutes=15), stagger=timedelta(0),
                           misbehaviour=Misbehaviour(malformed=0.05, duplicate=0.05))
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    count = len(SCENARIOS)
    span = fleet_span(plan_fleet(7, count, SCENARIOS, epoch, options))[1] - epoch
    start = datetime.now(UTC) - span - timedelta(hours=1)
    return plan_fleet(7, count, SCENARIOS, start, options)


@dataclass
class PublishedFleet:
    fleet: list[SimShipment]
    stats: ReplayStats
    conn: psycopg.Connection

    @property
    def devices(self) -> list[str]:
        return sorted(t.device_id for s in self.fleet for t in s.trackers)


@pytest.fixture(scope="module")
def published(pipeline: Pipeline) -> Iterator[PublishedFleet]:
    fleet = _plan(f"SIMT{uuid.uuid4().hex[:6].upper()}")
    assert sorted(s.truth.scenario for s in fleet) == sorted(SCENARIOS)
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
    with psycopg.connect(pipeline.stack.database_url, autocommit=True) as conn:
        yield PublishedFleet(fleet, stats, conn)


def test_simulated_fleet_is_stored_one_for_one(published: PublishedFleet) -> None:
    fleet, conn, devices = published.fleet, published.conn, published.devices
    truth = {(t.device_id, sample.ts) for s in fleet for t in s.trackers for sample in s.samples(t)}
    tallies = [s.tally() for s in fleet]
    malformed = sum(t.malformed for t in tallies)
    assert malformed > 0 and published.stats.by_kind.get("duplicate", 0) > 0  # the fleet did misbehave
    assert len(truth) == sum(n for t in tallies for n in t.readings.values())

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


def test_the_pipeline_finds_each_designed_excursion_and_no_other(published: PublishedFleet) -> None:
    expected = [e for s in published.fleet for e in s.truth.excursions if e.kind in TEMPERATURE_KINDS]
    assert {e.kind for e in expected} == set(TEMPERATURE_KINDS)  # the fleet has both kinds to find

    def closed() -> list[tuple] | None:
        rows = published.conn.execute(
            "SELECT device_id, kind, severity, started_at, ended_at FROM excursions"
            " WHERE device_id = ANY(%s) AND kind = ANY(%s) AND status <> 'retracted'",
            (published.devices, list(TEMPERATURE_KINDS))).fetchall()
        done = len(rows) >= len(expected) and all(row[4] is not None for row in rows)
        return rows if done else None

    rows = wait_for(closed, 90, "the designed excursions, closed", interval_s=0.5)
    for excursion in expected:
        found = [r for r in rows if r[0] == excursion.device_id and excursion.matches(*r[1:])]
        assert len(found) == 1, (excursion, rows)
    assert len(rows) == len(expected), rows  # nothing reported that the scenarios did not cause


def test_late_scenarios_are_flagged_at_risk_and_on_time_ones_are_not(published: PublishedFleet) -> None:
    def risks(shipment: SimShipment) -> set[str]:
        rows = published.conn.execute(
            "SELECT DISTINCT unnest(risk_reasons) FROM eta WHERE shipment_id = %s",
            (shipment.registration.id,)).fetchall()
        return {row[0] for row in rows}

    late = [s for s in published.fleet if s.truth.late]
    on_time = [s for s in published.fleet if s.truth.scenario == "normal"]
    assert late and on_time and not any(s.truth.late for s in on_time)
    wait_for(lambda: all("late" in risks(s) for s in late), 90, "'late' on each late shipment", interval_s=0.5)
    # Every shipment has been forecast (so silence here is a finding, not a lag) ...
    for shipment in on_time:
        wait_for(lambda s=shipment: published.conn.execute(
            "SELECT count(*) FROM eta WHERE shipment_id = %s", (s.registration.id,)).fetchone()[0] > 0,
            60, "an ETA for the on-time shipment")
        # ... and the on-time one was never forecast late.
        assert "late" not in risks(shipment)
