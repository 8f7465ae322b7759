"""`coldchain device add` (``Mosquitto.add_device``) returns once the broker takes the account:
a device added right after another logs in at the first try. SIGHUP reloads are asynchronous
and one sent while the broker is still reloading is lost, which left the last of 8 devices
added in a row refused until some later reload (its publisher retried for ever; the test
waiting on it timed out)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import pytest

from services.connections import parse_mqtt_url
from services.ingest.mqtt_session import Refused, end_session
from tests.harness.stack import StackEndpoints


def _log_in(url: str, device_id: str, password: str) -> None:
    """One clean MQTT 5 login as the device on the devices' listener, no retry (ingest's own
    handshake, which raises ``Refused`` with the CONNACK's reason)."""
    endpoint = dataclasses.replace(parse_mqtt_url(url), username=device_id, password=password)
    asyncio.run(end_session(endpoint, device_id))


def test_each_device_added_in_a_row_logs_in_at_once(stack: StackEndpoints, provision: Callable[[str], str],
                                                     unique: Callable[[str], str]) -> None:
    refused = {}
    for n in range(12):
        device = unique(f"ACCT{n}")
        password = provision(device)
        try:
            _log_in(stack.device_url, device, password)  # at once, as a device would
        except Refused as exc:
            refused[device] = str(exc)
    assert refused == {}


def test_a_wrong_password_is_still_refused(stack: StackEndpoints, provision: Callable[[str], str],
                                           unique: Callable[[str], str]) -> None:
    device = unique("ACCTX")
    provision(device)
    # 0x87, not authorised: what Mosquitto 2.0 answers a wrong password
    with pytest.raises(Refused, match=r"\(0x87\)$"):
        _log_in(stack.device_url, device, "not-its-password")
