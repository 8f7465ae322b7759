"""Load generators, each run in a process of its own (``multiprocessing`` spawn).

A QoS 1 publisher and subscriber in one Python process collapse to a few hundred messages
per second (measured here with paho-mqtt 2.2), so the benchmark never measures them side by side in-process.
Each function reports through a queue and never raises: an error comes back as text.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from services.connections import parse_mqtt_url


@dataclass(frozen=True)
class PublishPlan:
    """What a publisher process sends: ``devices`` trackers x ``per_device`` readings,
    packed ``batch`` to a message (1 = single-sample objects), at most ``rate`` messages/s
    (0 = as fast as the broker takes them). ``live_ts`` stamps each sample with its
    publish time (for latency); otherwise ``ts`` counts seconds up from ``base_ts``."""

    url: str
    device_prefix: str
    devices: int
    per_device: int
    batch: int = 1
    rate: float = 0.0
    live_ts: bool = False
    base_ts: float = 0.0
    topic: str | None = None  # a fixed topic (the raw broker ceiling); else each device's own
    max_inflight: int = 100  # paho scans its in-flight list per PUBACK: a wide window is slower
    interval_s: float = 1.0  # device time between a device's samples
    frozen: frozenset[str] = frozenset()  # devices that read FROZEN_C for the seqs in freeze_seqs
    freeze_seqs: tuple[int, int] = (0, 0)  # [first, last)
    # N > 0: every device's messages 1, N+1, 2N+1, ... go before the message ahead of each
    # (one in N overtakes the one before, as a tracker's unordered buffer sends them); 0: in order.
    overtaking_every: int = 0

    @property
    def readings(self) -> int:
        return self.devices * self.per_device

    @property
    def messages(self) -> int:
        per_device = -(-self.per_device // self.batch)
        return self.devices * per_device


@dataclass(frozen=True)
class PublishResult:
    messages: int
    readings: int
    first_publish: float  # time.time() of the first publish
    all_acked: float  # time.time() when the broker acknowledged the last one
    error: str | None = None


FROZEN_C = -3.0  # below live lobster's critical low (about -1.7 C, where seawater freezes)


def device_name(prefix: str, number: int) -> str:
    """The id of a plan's ``number``th device: benches that register the devices the
    publisher sends as must name them this way (the landing burst once registered other ids,
    so its readings bound to no shipment and nothing was scored or alerted)."""
    return f"{prefix}{number:04d}"


def sample(device_id: str, ts: float, seq: int) -> dict[str, Any]:
    return {"device_id": device_id, "ts": ts, "seq": seq, "temp_c": round(2.0 + (seq % 30) / 10, 2),
            "humidity_pct": 91.5, "lat": 44.8808, "lon": -63.5086, "battery_pct": 88.0}


# The same sample as text: a landing burst is ~100,000 messages of 100 samples, and building
# them through json.dumps would take the publisher more CPU than the services it loads.
_SAMPLE_TEXT = ('{"device_id":"%s","ts":%s,"seq":%d,"temp_c":%s,"humidity_pct":91.5,"lat":44.8808,'
                '"lon":-63.5086,"battery_pct":88.0}')


def sample_text(device_id: str, ts: float, seq: int, temp_c: float | None = None) -> str:
    temp = round(2.0 + (seq % 30) / 10, 2) if temp_c is None else temp_c
    return _SAMPLE_TEXT % (device_id, repr(ts), seq, repr(temp))


def _connect(url: str, client_id: str, max_inflight: int, clean: bool = True) -> mqtt.Client:
    endpoint = parse_mqtt_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                         clean_session=clean)
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    client.max_inflight_messages_set(max_inflight)
    client.on_socket_open = _no_delay
    return client


def _no_delay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def publish(plan: PublishPlan, results: Any) -> None:
    """Publish ``plan`` at QoS 1 and put a ``PublishResult`` on ``results``."""
    try:
        results.put(_publish(plan))
    except Exception as exc:  # reported to the parent, which prints it
        results.put(PublishResult(0, 0, 0.0, 0.0, error=f"{type(exc).__name__}: {exc}"))


def _publish(plan: PublishPlan) -> PublishResult:
    acked = 0
    room = threading.Condition()
    total = plan.messages
    client = _connect(plan.url, f"bench-pub-{uuid.uuid4().hex[:8]}", plan.max_inflight)

    def on_publish(client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        nonlocal acked
        with room:
            acked += 1
            room.notify_all()

    connected = threading.Event()
    client.on_publish = on_publish
    client.on_connect = lambda *args: connected.set()
    client.connect(*_host_port(plan.url))
    client.loop_start()
    if not connected.wait(15):
        raise RuntimeError("no CONNACK from the broker")
    first = time.time()
    sent = 0
    for payload, topic in _messages(plan):
        if plan.rate:
            due = first + sent / plan.rate
            if (wait := due - time.time()) > 0:
                time.sleep(wait)
        with room:
            # paho scans its whole outgoing queue on every PUBACK: never queue beyond the
            # in-flight window, or a large run turns quadratic.
            room.wait_for(lambda sent=sent: sent - acked < plan.max_inflight, timeout=60)  # type: ignore[misc]
        client.publish(topic, payload, qos=1)
        sent += 1
    with room:
        if not room.wait_for(lambda: acked >= total, timeout=120):
            raise RuntimeError(f"only {acked} of {total} publications acknowledged")
    finished = time.time()
    client.disconnect()
    client.loop_stop()
    return PublishResult(total, plan.readings, first, finished)


def _host_port(url: str) -> tuple[str, int]:
    endpoint = parse_mqtt_url(url)
    return endpoint.host, endpoint.port


def _messages(plan: PublishPlan) -> Any:
    """Round-robin over the devices, so every device's readings interleave as a fleet's do."""
    for start in message_starts(plan.per_device, plan.batch, plan.overtaking_every):
        for d in range(plan.devices):
            device_id = device_name(plan.device_prefix, d)
            topic = plan.topic or f"coldchain/v1/devices/{device_id}/telemetry"
            seqs = range(start, min(start + plan.batch, plan.per_device))
            if plan.live_ts:
                samples = [sample(device_id, time.time(), seq) for seq in seqs]
                yield json.dumps(samples[0] if plan.batch == 1 else samples).encode(), topic
                continue
            first, last = plan.freeze_seqs
            frozen = device_id in plan.frozen
            texts = [sample_text(device_id, plan.base_ts + seq * plan.interval_s, seq,
                                 FROZEN_C if frozen and first <= seq < last else None) for seq in seqs]
            body = texts[0] if plan.batch == 1 else "[" + ",".join(texts) + "]"
            yield body.encode(), topic


def message_starts(per_device: int, batch: int, overtaking_every: int = 0) -> list[int]:
    """The first sample of each of a device's messages, in the order they are sent."""
    starts = list(range(0, per_device, batch))
    if overtaking_every > 0:
        for i in range(0, len(starts) - 1, overtaking_every):
            starts[i], starts[i + 1] = starts[i + 1], starts[i]
    return starts


@dataclass(frozen=True)
class SubscribeResult:
    received: int
    first: float
    last: float
    error: str | None = None


def subscribe(url: str, topic: str, expected: int, ready: Any, results: Any, timeout_s: float = 120) -> None:
    """Count QoS 1 messages on ``topic`` until ``expected`` arrived; set ``ready`` once subscribed."""
    try:
        results.put(_subscribe(url, topic, expected, ready, timeout_s))
    except Exception as exc:
        results.put(SubscribeResult(0, 0.0, 0.0, error=f"{type(exc).__name__}: {exc}"))


def _subscribe(url: str, topic: str, expected: int, ready: Any, timeout_s: float) -> SubscribeResult:
    received = 0
    first = last = 0.0
    done = threading.Event()
    client = _connect(url, f"bench-sub-{uuid.uuid4().hex[:8]}", 1000)

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        nonlocal received, first, last
        last = time.time()
        if not received:
            first = last
        received += 1
        if received >= expected:
            done.set()

    client.on_message = on_message
    client.on_connect = lambda c, *args: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *args: ready.set()
    client.connect(*_host_port(url))
    client.loop_start()
    done.wait(timeout_s)
    client.disconnect()
    client.loop_stop()
    return SubscribeResult(received, first, last)
