"""`coldchain device add` (``Mosquitto.add_device``) returns once the broker takes the account:
a device added right after another logs in at the first try. SIGHUP reloads are asynchronous
and one sent while the broker is still reloading is lost, which left the last of 8 devices
added in a row refused until some later reload (its publisher retried for ever; the test
waiting on it timed out)."""

from __future__ import annotations

import socket
from collections.abc import Callable

from services.connections import parse_mqtt_url
from services.ingest.mqtt_wire import ConnAck, FrameReader, connect_packet, decode
from tests.harness.stack import StackEndpoints


def _connack(url: str, device_id: str, password: str) -> int:
    """One MQTT 5 login as the device on the devices' listener, no retry: the CONNACK's reason."""
    endpoint = parse_mqtt_url(url)
    with socket.create_connection((endpoint.host, endpoint.port), timeout=5) as sock:
        sock.sendall(connect_packet(device_id, username=device_id, password=password, keepalive_s=10,
                                    clean_start=True, session_expiry_s=0, receive_maximum=1))
        reader, frames = FrameReader(), []
        while not frames:
            data = sock.recv(256)
            assert data, "the broker closed the connection without a CONNACK"
            frames = reader.feed(data)
    answer = decode(*frames[0])
    assert isinstance(answer, ConnAck)
    return answer.reason_code


def test_each_device_added_in_a_row_logs_in_at_once(stack: StackEndpoints, provision: Callable[[str], str],
                                                     unique: Callable[[str], str]) -> None:
    refused = {}
    for n in range(12):
        device = unique(f"ACCT{n}")
        password = provision(device)
        if code := _connack(stack.device_url, device, password):  # at once, as a device would
            refused[device] = code
    assert refused == {}


def test_a_wrong_password_is_still_refused(stack: StackEndpoints, provision: Callable[[str], str],
                                           unique: Callable[[str], str]) -> None:
    device = unique("ACCTX")
    provision(device)
    # 0x87, not authorised: what Mosquitto 2.0 answers a wrong password
    assert _connack(stack.device_url, device, "not-its-password") == 0x87
