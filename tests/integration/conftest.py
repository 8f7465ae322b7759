"""The running pipeline: API, ingest and sink as real processes on the real stack."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from services.api.tokens import create_token
from services.connections import parse_mqtt_url
from services.ingest.session import end_session
from services.kafka.groups import commit_log_end
from tests.conftest import ARTIFACTS
from tests.harness.processes import ServiceProcess, free_port, wait_for, wait_for_http
from tests.harness.stack import StackEndpoints


@dataclass
class Pipeline:
    stack: StackEndpoints
    api_url: str
    ops_token: str
    services: dict[str, ServiceProcess]

    def http(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=10,
                            headers={"Authorization": f"Bearer {token or self.ops_token}"})

    def restart(self, name: str, kill: bool = True) -> None:
        service = self.services[name]
        service.kill() if kill else service.stop()
        service.start()


@pytest.fixture(scope="session")
def pipeline(stack: StackEndpoints) -> Iterator[Pipeline]:
    port = free_port()
    session = uuid.uuid4().hex[:8]
    groups = checkout_groups()
    env = {
        **stack.env,
        "COLDCHAIN_HTTP_PORT": str(port),
        # Stable across restarts within this session (the MQTT session must survive a SIGKILL),
        # unique to it, so parallel sessions on one broker never take over each other's client.
        "COLDCHAIN_INGEST_CLIENT_ID": f"coldchain-ingest-test-{session}",
        # A group of its own: sessions left behind by an interrupted run on the same broker would
        # otherwise be handed a share of this run's messages.
        "COLDCHAIN_INGEST_SHARE_GROUP": f"coldchain-ingest-test-{session}",
        "COLDCHAIN_INGEST_SESSION_EXPIRY_S": "300",
        "COLDCHAIN_INGEST_METRICS_PORT": "0",
        "COLDCHAIN_SINK_METRICS_PORT": "0",
        "COLDCHAIN_EXCURSIONS_METRICS_PORT": "0",
        "COLDCHAIN_ETA_METRICS_PORT": "0",
        "COLDCHAIN_RETENTION_METRICS_PORT": "0",
        # Consumer groups of this checkout's own: sessions of other checkouts on the same stack
        # (other code) would otherwise share partitions with these, and the groups stay active.
        **{f"COLDCHAIN_{name.upper()}": group for name, group in groups.items()},
    }
    logs = ARTIFACTS / "logs"
    services = {
        name: ServiceProcess(f"services.{name}.main", env, logs)
        for name in ("api", "sink", "ingest", "excursions")
    }
    services["eta"] = ServiceProcess("services.eta.app", env, logs, name="eta")
    try:  # a set-up that fails half-way stops what it started too (no orphans on a shared stack)
        services["api"].start()
        wait_for_http(f"http://127.0.0.1:{port}/openapi.json", 60, services["api"])
        commit_log_end(stack.kafka_bootstrap, groups["sink_group_id"])  # a new group: from the log's end
        services["sink"].start()
        services["ingest"].start()
        # The first subscription creates the persistent session; before it, nothing is queued.
        wait_for(lambda: "subscribed to" in services["ingest"].log_tail(50), 30, "ingest's MQTT subscription")
        for group in (groups["excursions_app_id"], groups["eta_app_id"]):  # the processors' faust app ids
            commit_log_end(stack.kafka_bootstrap, group)  # not every earlier run's readings again
        for name in ("excursions", "eta"):
            services[name].start()
        for name in ("excursions", "eta"):
            wait_for(lambda n=name: services[n].ready(), 90, f"the {name} processor", interval_s=0.3)
        token = create_token(stack.database_url, "ops", None)
        yield Pipeline(stack, f"http://127.0.0.1:{port}", token, services)
    finally:
        for service in services.values():
            service.stop()
        end_session(stack.env["COLDCHAIN_MQTT_URL"], env["COLDCHAIN_INGEST_CLIENT_ID"])


def checkout_groups() -> dict[str, str]:
    """The sink's consumer group and the processors' app ids, the same for every session of this
    checkout (its faust changelog topics are reused) and different from other checkouts'."""
    tag = hashlib.sha256(str(Path(__file__).resolve().parents[2]).encode()).hexdigest()[:8]
    return {"sink_group_id": f"coldchain-sink-test-{tag}",
            "excursions_app_id": f"coldchain-excursions-test-{tag}", "eta_app_id": f"coldchain-eta-test-{tag}"}


def shipment_body(shipment_id: str, devices: list[str], **overrides: Any) -> dict[str, Any]:
    packed = datetime.now(UTC) - timedelta(hours=2)
    body: dict[str, Any] = {
        "id": shipment_id,
        "product": "live-lobster",
        "devices": devices,
        "origin": {"name": "Halifax Stanfield (YHZ)", "lat": 44.8808, "lon": -63.5086},
        "waypoints": [{"name": "Shanghai Pudong (PVG)", "lat": 31.1443, "lon": 121.8083, "mode": "air"}],
        "destination": {"name": "Hangzhou buyer warehouse", "lat": 30.2741, "lon": 120.1551, "mode": "road"},
        "packed_at": packed.isoformat(),
        "deliver_by": (packed + timedelta(hours=48)).isoformat(),
        "seller": {"name": "Shediac Lobster Co.", "email": "ops@seller.example", "phone": "+19025550100"},
        "buyer": {"name": "Hangzhou Fresh Ltd.", "email": "qa@buyer.example", "phone": "+8657155500100"},
    }
    body.update(overrides)
    return body


class DevicePublisher:
    """A real MQTT client logged in as one device (or any account), QoS 1."""

    def __init__(self, url: str, username: str, password: str) -> None:
        endpoint = parse_mqtt_url(url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv311)
        self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(200)
        self.client.connect(endpoint.host, endpoint.port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes | str | Any, wait: bool = True) -> mqtt.MQTTMessageInfo:
        if not isinstance(payload, bytes | str):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=1)
        if wait:
            info.wait_for_publish(10)
        return info

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def device_publisher(
    stack: StackEndpoints, provision: Callable[[str], str]
) -> Iterator[Callable[[str], DevicePublisher]]:
    made: list[DevicePublisher] = []

    def connect(device_id: str) -> DevicePublisher:
        publisher = DevicePublisher(stack.device_url, device_id, provision(device_id))
        made.append(publisher)
        return publisher

    yield connect
    for publisher in made:
        publisher.close()
