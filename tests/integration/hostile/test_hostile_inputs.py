"""Issue 18 on the live stack: hostile payloads and requests, each followed by a canary.

After each hostile MQTT payload, a good reading from another device must be stored within
45 s and the payload must be listed with a reason by `GET /api/v1/deadletters` and
`coldchain dlq`; after each hostile HTTP request the API must answer without having read
what it was sent. No service may die along the way (`make chaos` runs the fuzzer at length).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from services.connections import parse_mqtt_url
from tests.harness.processes import wait_for
from tests.integration.conftest import DevicePublisher, Pipeline
from tests.integration.hostile.checks import CANARY_WITHIN_S, NOW, Canary, assert_all_alive, listed


def sample(device: str, minutes_ago: float, **fields: Any) -> dict[str, Any]:
    return {"device_id": device, "ts": (NOW - timedelta(minutes=minutes_ago)).isoformat(), "temp_c": 2.5, **fields}


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


HOSTILE_MQTT: dict[str, Callable[[str], tuple[str, bytes]]] = {
    "10,000 empty objects": lambda d: ("telemetry", json.dumps([{}] * 10_000).encode()),
    "seq 2^63 (overflows bigint)": lambda d: ("telemetry", json.dumps(sample(d, 5, seq=2**63)).encode()),
    "nesting 100,000 deep": lambda d: ("telemetry", nested(100_000)),
    "NaN and 1e999": lambda d: ("telemetry", b'{"device_id": "%s", "ts": 1, "temp_c": NaN, "humidity_pct": 1e999}'
                                % d.encode()),
    # (An unknown field, however long, is ignored as the contract says; a known one is checked.)
    "a 900 KB device id": lambda d: ("telemetry", json.dumps(sample(d, 6) | {"device_id": "x" * 900_000}).encode()),
    "an 8,000-sample batch": lambda d: ("telemetry", json.dumps(
        [sample(d, 10_000 - i / 10) for i in range(8_000)]).encode()),
    "a 20,000-record SenML pack": lambda d: ("senml", json.dumps(
        [{"bn": f"urn:dev:{d}:", "bt": NOW.timestamp()}] + [{"n": "temp", "u": "Cel", "v": 2.0, "t": -i}
                                                             for i in range(20_000)]).encode()),
    "a far-future timestamp": lambda d: ("telemetry", json.dumps(
        {"device_id": d, "ts": "2999-01-01T00:00:00Z", "temp_c": 3.0}).encode()),
    "invalid UTF-8": lambda d: ("telemetry", b'{"device_id": "\xff\xfe", "ts": 1}'),
    "a 100,000-digit number": lambda d: ("telemetry", b'{"device_id": "%s", "ts": 1, "seq": %s}'
                                         % (d.encode(), b"9" * 100_000)),
}


@pytest.mark.parametrize("case", list(HOSTILE_MQTT))
def test_a_hostile_payload_is_refused_with_a_reason_and_stops_nobody(
    case: str, pipeline: Pipeline, device_publisher: Callable[[str], DevicePublisher],
    unique: Callable[[str], str], canary: Canary,
) -> None:
    device = unique("HOSTILE")
    kind, payload = HOSTILE_MQTT[case](device)
    device_publisher(device).publish(f"coldchain/v1/devices/{device}/{kind}", payload)
    canary()
    wait_for(lambda: listed(pipeline, device), CANARY_WITHIN_S, f"the dead letter of {case!r}", interval_s=0.3)
    letters = listed(pipeline, device)
    assert all(letter["reason"] for letter in letters)
    cli = subprocess.run([str(Path(sys.executable).parent / "coldchain"), "dlq", "--device", device],
                         capture_output=True, text=True, env={**pipeline.stack.env, "COLUMNS": "300"})
    assert cli.returncode == 0, cli.stderr
    assert int(cli.stdout.split()[0]) == len(letters), cli.stdout  # the title: "N refused payloads"
    assert_all_alive(pipeline)


def test_a_payload_over_the_brokers_packet_limit_never_reaches_ingest(
    pipeline: Pipeline, device_publisher: Callable[[str], DevicePublisher], unique: Callable[[str], str],
    canary: Canary, database_url: str,
) -> None:
    """Mosquitto refuses packets over 1 MiB (max_packet_size) and drops the sender's connection,
    so such a payload is no dead letter: ingest never sees it, and nobody else notices."""
    device = unique("HUGE")
    publisher = device_publisher(device)
    huge = json.dumps([sample(device, 10_000 - i / 10) for i in range(25_000)]).encode()
    assert len(huge) > 1_048_576
    publisher.publish(f"coldchain/v1/devices/{device}/telemetry", huge, wait=False)
    canary()
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM readings WHERE device_id = %s", (device,)).fetchone() == (0,)
    assert_all_alive(pipeline)


def test_a_device_naming_ingests_client_id_cannot_take_its_session(
    pipeline: Pipeline, provision: Callable[[str], str], unique: Callable[[str], str],
    canary: Canary,
) -> None:
    device = unique("THIEF")
    password = provision(device)
    ingest_id = pipeline.services["ingest"].env["COLDCHAIN_INGEST_CLIENT_ID"]
    endpoint = parse_mqtt_url(pipeline.stack.device_url)
    thief = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=ingest_id, protocol=mqtt.MQTTv311,
                        clean_session=True)
    thief.username_pw_set(device, password)
    thief.connect(endpoint.host, endpoint.port)
    thief.loop_start()
    try:
        time.sleep(2)
        canary()
        assert_all_alive(pipeline)
    finally:
        thief.disconnect()
        thief.loop_stop()
    canary()


def raw_post(url: str, path: str, headers: dict[str, str], body: bytes, declared: int) -> tuple[int, float]:
    """Sends headers claiming ``declared`` bytes and then only ``body``: the answer must come
    without the server waiting for (or reading) the rest."""
    host, port = url.removeprefix("http://").split(":")
    began = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {declared}",
                "Content-Type: application/json", *[f"{k}: {v}" for k, v in headers.items()], "", ""]
        sock.sendall("\r\n".join(head).encode() + body)
        status_line = sock.makefile("rb").readline().decode()
    return int(status_line.split()[1]), time.monotonic() - began


def test_a_200_mb_unauthenticated_body_is_refused_before_it_is_read(pipeline: Pipeline,
                                                                     canary: Canary) -> None:
    code, took = raw_post(pipeline.api_url, "/api/v1/shipments", {}, b"{" * 65_536, 200_000_000)
    assert code == 401 and took < 5  # no token: refused before the size is even looked at
    code, took = raw_post(pipeline.api_url, "/api/v1/shipments", {"Authorization": f"Bearer {pipeline.ops_token}"},
                          b"{" * 65_536, 200_000_000)
    assert code == 413 and took < 5
    # The SMS webhook is signed by its provider rather than tokened: its size is bounded first.
    code, took = raw_post(pipeline.api_url, "/api/v1/sms/inbound", {}, b"{" * 65_536, 200_000_000)
    assert code == 413 and took < 5
    canary()
    assert_all_alive(pipeline)


def test_query_parameters_are_bounded(pipeline: Pipeline) -> None:
    with pipeline.http() as http:
        assert http.get("/api/v1/shipments", params={"limit": 10**12}).status_code == 422
        assert http.get("/api/v1/deadletters", params={"limit": -1}).status_code == 422
        assert http.get("/api/v1/shipments", params={"party": "x" * 1_000}).status_code == 422
        assert http.get("/api/v1/deadletters", params={"device": "x" * 1_000}).status_code == 422
