"""The adapters at the edge: settings, HTTP registration (against a local server), MQTT
publisher set-up (no broker is started here; the integration suite runs it for real)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from devtools.simulate.fleet import plan_fleet
from devtools.simulate.mqtt_publisher import MqttFleetPublisher, PublisherError
from devtools.simulate.registration import RegistrationError, ShipmentRegistrar
from devtools.simulate.settings import SimulateSettings
from pydantic import SecretStr

from services.connections import MqttEndpoint

START = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)


def test_the_shared_account_prefers_the_admin_url() -> None:
    settings = SimulateSettings(
        mqtt_url=SecretStr("mqtt://ingest:r@127.0.0.1:11883"),
        mqtt_admin_url=SecretStr("mqtt://admin:w@127.0.0.1:11883"),
        api_url=None, http_host="10.0.0.5", http_port=9000,
    )
    assert settings.publisher_endpoint.username == "admin"
    assert settings.api_base_url == "http://10.0.0.5:9000"
    plain = SimulateSettings(mqtt_url=SecretStr("mqtts://dev:pw@broker.example"),
                             mqtt_admin_url=None)
    assert plain.publisher_endpoint == MqttEndpoint("broker.example", 8883, "dev", "pw", True)
    with pytest.raises(ValueError):
        SimulateSettings(mqtt_admin_url=SecretStr("http://nope"))


class FakeApi(BaseHTTPRequestHandler):
    """A stand-in for the API: 201 for a new id, 409 for a known one, checks the token."""

    known: set[str] = set()
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") != "Bearer s3cret":
            status = 401
        elif self.path != "/api/v1/shipments":
            status = 404
        elif body["id"] in self.known:
            status = 409
        else:
            self.known.add(body["id"])
            self.bodies.append(body)
            status = 201
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def api() -> Iterator[str]:
    FakeApi.known, FakeApi.bodies = set(), []
    server = HTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_registration_posts_each_body_once_and_tolerates_a_rerun(api: str) -> None:
    fleet = plan_fleet(8, 2, ["normal"], START)
    registrar = ShipmentRegistrar(api, "s3cret")
    registrar.start()
    try:
        assert [registrar.register(s.registration) for s in fleet] == ["created", "created"]
        assert registrar.register(fleet[0].registration) == "exists"
    finally:
        registrar.stop()
    assert [b["id"] for b in FakeApi.bodies] == [s.id for s in fleet]
    assert FakeApi.bodies[0]["packed_at"].endswith("Z")


def test_registration_reports_a_refusal(api: str) -> None:
    registrar = ShipmentRegistrar(api, "wrong-token")
    registrar.start()
    try:
        with pytest.raises(RegistrationError, match="401"):
            registrar.register(plan_fleet(8, 1, ["normal"], START)[0].registration)
    finally:
        registrar.stop()


def test_the_publisher_does_nothing_until_started_and_fails_clearly_without_a_broker() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = MqttEndpoint("127.0.0.1", port, "admin", "pw", False)
    publisher = MqttFleetPublisher(endpoint, {"DEV-1": "pw1"}, connect_timeout_s=1.0)
    assert publisher.pending == 0
    began = time.monotonic()
    with pytest.raises(PublisherError, match=f"127.0.0.1:{port}"):
        publisher.start(["DEV-1", "DEV-2"])
    assert time.monotonic() - began < 30  # fails, not hangs
