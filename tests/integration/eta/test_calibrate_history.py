"""`coldchain eta calibrate` on the real database: completed shipments' stored fixes become
per-place dwell and per-leg timing in a parameters file the ETA service loads.

Simulated trips (known truth: 5 h clearance at the arrival airport) are written straight
into ``shipments`` and ``readings``, under place names of this run's own, so other
shipments on the stack cannot move the figures checked here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from bench.trips import HALIFAX_PLANT, HANGZHOU, PVG, YHZ, Trip, TripPlan, shipment, simulate
from schemas.shipment import Shipment
from services.eta.history import completed_trips
from services.eta.parameters import EtaParameters
from services.eta.settings import EtaSettings

CLEARANCE_H = 5.0
WAKE_H = 10 / 60  # the simulated tracker wakes 10 minutes after landing


def _store(conn: psycopg.Connection, trip: Trip, until: datetime | None = None) -> None:
    ship = Shipment(**trip.shipment.model_dump(), created_at=datetime.now(UTC))
    conn.execute(
        "INSERT INTO shipments (id, product, packed_at, deliver_by, seller_name, buyer_name, body,"
        " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (ship.id, ship.product, ship.packed_at, ship.deliver_by, ship.seller.name, ship.buyer.name,
         Jsonb(ship.model_dump(mode="json")), ship.created_at))
    rows = [(r.time, r.device_id, r.shipment_id, r.temp_c, r.lat, r.lon, r.received_at)
            for r in trip.readings if until is None or r.time < until]
    with conn.cursor() as cur, cur.copy(
            "COPY readings (time, device_id, shipment_id, temp_c, lat, lon, received_at) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


@pytest.fixture
def history(db: psycopg.Connection, unique) -> dict[str, str]:
    names = {"airport": unique("Test arrival airport"), "warehouse": unique("Test warehouse")}
    airport = PVG.model_copy(update={"name": names["airport"]})
    warehouse = HANGZHOU.model_copy(update={"name": names["warehouse"]})
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=20)
    for index in range(5):
        ship = shipment(unique(f"SHP-CAL{index}"), HALIFAX_PLANT, [YHZ, airport, warehouse],
                        start + timedelta(days=index), 48.0, device_id=unique(f"TRK-CAL{index}"))
        trip = simulate(TripPlan(shipment=ship, dwell_h=[0.5, 4.0, CLEARANCE_H + 0.05 * (index - 2)],
                                 travel_h=[0.7, 15.2, 3.4], seed=index))
        # The last one is still at the arrival airport: not history yet.
        _store(db, trip, until=trip.legs[2].departed_at if index == 4 else None)
    names["since"] = (start - timedelta(minutes=1)).isoformat()
    names["prefix"] = unique("SHP-CAL")
    return names


def test_calibrate_learns_from_completed_shipments_and_the_service_loads_the_file(
        history: dict[str, str], database_url: str, tmp_path: Path) -> None:
    found = completed_trips(database_url, EtaParameters(), datetime.fromisoformat(history["since"]))
    ours = sorted(t.shipment.id for t in found.trips if t.shipment.destination.name == history["warehouse"])
    assert len(ours) == 4, "four delivered; the fifth has not left the airport"

    output = tmp_path / "eta-model.json"
    env = {**os.environ, "COLDCHAIN_DATABASE_URL": database_url, "COLUMNS": "250"}
    env.pop("COLDCHAIN_ETA_MODEL_FILE", None)
    done = subprocess.run([sys.executable, "-m", "services.cli", "eta", "calibrate", "-o", str(output),
                           "--days", "30"], capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert f"wrote {output}" in done.stderr
    learned = json.loads(output.read_text())
    assert set(learned) == {"place_dwell_h", "leg_timing"}
    assert learned["place_dwell_h"][history["airport"]] == pytest.approx(CLEARANCE_H - WAKE_H, abs=0.25)
    last_mile = learned["leg_timing"][f"{history['airport']} -> {history['warehouse']}"]
    assert abs(last_mile["extra_h"]) < 1.0

    os.environ["COLDCHAIN_ETA_MODEL_FILE"] = str(output)
    try:
        params = EtaSettings().parameters
    finally:
        del os.environ["COLDCHAIN_ETA_MODEL_FILE"]
    assert params.place_dwell_h[history["airport"]] == learned["place_dwell_h"][history["airport"]]
