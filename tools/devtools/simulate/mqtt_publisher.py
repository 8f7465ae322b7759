"""The MQTT edge of the simulator: paho-mqtt 2.2 clients publishing at QoS 1.

A device with its own password (``device_passwords``) connects as itself (username =
device id, as ``coldchain device add`` provisions it, so the broker's per-device ACL
applies); every other device publishes through one shared account taken from the URL.
Clients connect in ``start()``, never in the constructor.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devtools.simulate.tracker import PublishAction
from services.connections import MqttEndpoint


class PublisherError(RuntimeError):
    pass


class MqttFleetPublisher:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        device_passwords: Mapping[str, str] | None = None,
        ca_file: Path | None = None,
        max_inflight: int = 100,
        max_pending: int = 20_000,
        connect_timeout_s: float = 15.0,
        device_endpoint: MqttEndpoint | None = None,
    ) -> None:
        self.endpoint = endpoint
        # Where devices with their own password connect (a broker may give devices a listener
        # of their own); the shared account's endpoint when None.
        self.device_endpoint = device_endpoint or endpoint
        self.device_passwords = dict(device_passwords or {})
        self.ca_file = ca_file
        self.max_inflight = max_inflight
        self.max_pending = max_pending
        self.connect_timeout_s = connect_timeout_s
        self._clients: dict[str, mqtt.Client] = {}  # device id, or "" for the shared one
        self._lock = threading.Lock()
        self._acked = threading.Condition(self._lock)
        self.sent = 0
        self.acked = 0
        self.refused = 0  # PUBACKs with an error reason code (MQTT 5), e.g. not authorised

    @property
    def pending(self) -> int:
        with self._lock:
            return self.sent - self.acked

    def start(self, device_ids: Iterable[str]) -> None:
        """Connect one client per device that has a password, and the shared one if needed."""
        names = sorted({d if d in self.device_passwords else "" for d in device_ids})
        connected = {name: threading.Event() for name in names}
        failures: dict[str, str] = {}
        for name in names:
            client = self._make_client(name, connected[name], failures)
            where = self.device_endpoint if name else self.endpoint
            client.connect_async(where.host, where.port, keepalive=60)
            client.loop_start()
            self._clients[name] = client
        deadline = time.monotonic() + self.connect_timeout_s
        for name, event in connected.items():
            if not event.wait(max(0.0, deadline - time.monotonic())) or name in failures:
                who = name or "the shared account"
                reason = failures.get(name, "no answer")
                where = self.device_endpoint if name else self.endpoint
                self.stop()
                raise PublisherError(f"MQTT {where.host}:{where.port} refused {who}: {reason}")

    def publish(self, action: PublishAction) -> None:
        client = self._clients.get(action.device_id) or self._clients.get("")
        if client is None:
            raise PublisherError(f"no MQTT client for {action.device_id}; call start() first")
        with self._acked:
            # Back-pressure: do not let an accelerated replay outrun the broker unboundedly.
            while self.sent - self.acked >= self.max_pending:
                self._acked.wait(1.0)
            self.sent += 1
        info = client.publish(action.topic, action.payload, qos=1)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            # NO_CONN: paho keeps QoS 1 messages and sends them on reconnect.
            raise PublisherError(f"publish to {action.topic} failed: {mqtt.error_string(info.rc)}")

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every publication is acknowledged; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._acked:
            while self.sent > self.acked:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._acked.wait(min(left, 0.5))
        return True

    def stop(self) -> None:
        for client in self._clients.values():
            client.disconnect()
            client.loop_stop()
        self._clients.clear()

    # -- paho ----------------------------------------------------------------------------
    def _make_client(
        self, name: str, connected: threading.Event, failures: dict[str, str]
    ) -> mqtt.Client:
        client_id = name or f"coldchain-simulator-{os.getpid()}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if name:
            client.username_pw_set(name, self.device_passwords[name])
        elif self.endpoint.username:
            client.username_pw_set(self.endpoint.username, self.endpoint.password)
        if self.endpoint.tls:
            client.tls_set(
                ca_certs=str(self.ca_file) if self.ca_file else None, cert_reqs=ssl.CERT_REQUIRED
            )
        client.max_inflight_messages_set(self.max_inflight)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_socket_open = _no_delay

        def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
            if reason.is_failure:
                failures[name] = str(reason)
            connected.set()

        client.on_connect = on_connect
        client.on_publish = self._on_publish
        return client

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any
    ) -> None:
        with self._acked:
            self.acked += 1
            if getattr(reason, "is_failure", False):
                self.refused += 1
            self._acked.notify_all()


def _no_delay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    # paho does not set TCP_NODELAY itself; without it each PUBACK waits on Nagle.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
