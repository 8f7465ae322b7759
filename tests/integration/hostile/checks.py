"""What the hostile-input suites check after each payload or batch: a canary reading from a
healthy device is stored in time, the services are alive, refused payloads are listed."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from tests.harness.processes import wait_for
from tests.integration.conftest import DevicePublisher, Pipeline

CANARY_WITHIN_S = 45
NOW = datetime.now(UTC).replace(microsecond=0)


class Canary:
    """One good reading at a time from a device of its own; each call says how long it took."""

    def __init__(self, device: str, publisher: DevicePublisher, database_url: str) -> None:
        self.device = device
        self.publisher = publisher
        self.database_url = database_url
        self.sent = 0

    def __call__(self, within_s: float = CANARY_WITHIN_S) -> float:
        self.sent += 1
        at = NOW - timedelta(seconds=self.sent)
        self.publisher.publish(f"coldchain/v1/devices/{self.device}/telemetry",
                               {"device_id": self.device, "ts": at.isoformat(), "temp_c": 2.0})
        began = time.monotonic()

        def stored() -> bool:
            with psycopg.connect(self.database_url) as conn:
                return conn.execute("SELECT 1 FROM readings WHERE device_id = %s AND time = %s",
                                    (self.device, at)).fetchone() is not None

        wait_for(stored, within_s, f"the canary reading of {self.device}", interval_s=0.2)
        return time.monotonic() - began


def make_canary(device_publisher: Callable[[str], DevicePublisher], unique: Callable[[str], str],
                database_url: str) -> Canary:
    device = unique("CANARY")
    return Canary(device, device_publisher(device), database_url)


def assert_all_alive(pipeline: Pipeline) -> None:
    for name in ("api", "ingest", "sink"):
        assert pipeline.services[name].alive(), f"{name} died:\n{pipeline.services[name].log_tail()}"


def listed(pipeline: Pipeline, device: str, limit: int = 100) -> list[dict[str, Any]]:
    """``GET /api/v1/deadletters?device=``: the device's refused payloads, newest first."""
    with pipeline.http() as http:
        response = http.get("/api/v1/deadletters", params={"device": device, "limit": limit})
        response.raise_for_status()
        return list(response.json()["items"])
