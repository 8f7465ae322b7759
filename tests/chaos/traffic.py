"""The steady load of a fault run: known unique readings, some duplicates, published over MQTT
at QoS 1 by a process of its own (a publisher in the test process would slow both down).

Each device's day holds one tarmac delay (40 minutes at 9 C), so every device must end with
exactly one closed warning excursion, and its shipment's parties with one "started" and one
"ended" email each. The publisher behaves like a tracker: what the broker has not
acknowledged is kept and sent again, so a broker restart loses nothing it was given.
"""

from __future__ import annotations

import json
import random
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from services.connections import parse_mqtt_url

SPACING = timedelta(seconds=10)
WARM_FROM, WARM_TO = 360, 600  # sample indexes of the tarmac delay: 40 minutes at 9 C
DUPLICATE_SHARE = 0.05


@dataclass(frozen=True)
class Traffic:
    messages: list[tuple[str, bytes, int]]  # (MQTT topic, payload, readings in it), in publish order
    unique: set[tuple[str, datetime]]  # every distinct (device_id, time)
    start: datetime  # the first sample's time

    @property
    def readings(self) -> int:
        return sum(m[2] for m in self.messages)

    def warm_period(self) -> tuple[datetime, datetime]:
        """When each device's excursion starts and when it is back in range."""
        return self.start + WARM_FROM * SPACING, self.start + WARM_TO * SPACING


def plan_traffic(devices: list[str], per_device: int, seed: int) -> Traffic:
    """Device samples every 10 s ending about now, in order per device but interleaved across
    the fleet, in messages of 1-10 samples; 5 % of the samples are sent a second time."""
    rnd = random.Random(seed)
    start = datetime.now(UTC).replace(microsecond=0) - per_device * SPACING - timedelta(minutes=5)
    queues: dict[str, list[dict[str, Any]]] = {}
    for device in devices:
        samples = [{"device_id": device, "ts": (start + i * SPACING).isoformat(), "seq": i,
                    "temp_c": 9.0 if WARM_FROM <= i < WARM_TO else round(rnd.uniform(2.0, 4.0), 2),
                    "humidity_pct": 90.0} for i in range(per_device)]
        again = rnd.sample(samples, int(per_device * DUPLICATE_SHARE))
        for sample in again:  # a duplicate arrives a little later than the original
            samples.insert(min(len(samples), samples.index(sample) + rnd.randint(1, 50)), sample)
        queues[device] = samples
    unique = {(d, start + i * SPACING) for d in devices for i in range(per_device)}
    messages: list[tuple[str, bytes, int]] = []
    while queues:
        device = rnd.choice(sorted(queues))
        size = rnd.choice([1, 1, 1, 5, 10])
        batch, queues[device] = queues[device][:size], queues[device][size:]
        if not queues[device]:
            del queues[device]
        body = batch[0] if len(batch) == 1 else batch
        messages.append((f"coldchain/v1/devices/{device}/telemetry", json.dumps(body).encode(), len(batch)))
    return Traffic(messages, unique, start)


def _acknowledged(info: mqtt.MQTTMessageInfo) -> bool:
    # A message handed over while the client was disconnected is queued, but its info
    # carries MQTT_ERR_NO_CONN and is_published() raises: count it as not acknowledged.
    try:
        return info.is_published()
    except RuntimeError:
        return False


@dataclass
class Published:
    messages: int = 0
    acknowledged: int = 0  # messages the broker acknowledged, in the end
    resent: int = 0  # messages sent again because no acknowledgement came
    error: str | None = None
    log: list[str] = field(default_factory=list)


def publish(url: str, messages: list[tuple[str, bytes, int]], readings_per_s: float, results: Any,
            progress: Any) -> None:
    """Runs in its own process; puts one ``Published`` on ``results``. ``progress`` (a shared
    integer) counts messages handed to the client, so the test can time its fault."""
    outcome = Published(messages=len(messages))
    try:
        _publish(url, messages, readings_per_s, progress, outcome)
    except Exception as exc:  # reported to the test, which fails with it
        outcome.error = f"{type(exc).__name__}: {exc}"
    results.put(outcome)


def _publish(url: str, messages: list[tuple[str, bytes, int]], readings_per_s: float, progress: Any,
             outcome: Published) -> None:
    endpoint = parse_mqtt_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"chaos-pub-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv311)
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    client.max_inflight_messages_set(100)
    client.reconnect_delay_set(min_delay=1, max_delay=2)
    client.on_socket_open = lambda c, u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.on_connect = lambda *args: outcome.log.append(f"{time.time():.1f} connected")
    client.on_disconnect = lambda *args: outcome.log.append(f"{time.time():.1f} disconnected")
    client.connect(endpoint.host, endpoint.port, keepalive=10)
    client.loop_start()
    first = time.monotonic()
    sent_readings = 0
    infos: list[mqtt.MQTTMessageInfo] = []
    for topic, payload, count in messages:
        if (wait := first + sent_readings / readings_per_s - time.monotonic()) > 0:
            time.sleep(wait)
        infos.append(client.publish(topic, payload, qos=1))
        sent_readings += count
        progress.value += 1
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        waiting = [n for n, info in enumerate(infos) if not _acknowledged(info)]
        if not waiting:
            break
        time.sleep(10)  # give the client's own retransmission its chance first
        for n in waiting:
            if not _acknowledged(infos[n]) and client.is_connected():
                topic, payload, _ = messages[n]
                infos[n] = client.publish(topic, payload, qos=1)
                outcome.resent += 1
    outcome.acknowledged = sum(1 for info in infos if _acknowledged(info))
    client.disconnect()
    client.loop_stop()
