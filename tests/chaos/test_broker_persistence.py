"""Mosquitto as configured by the native stack keeps a persistent session and the QoS 1
messages queued for it across a broker restart (``persistence true``), which is what lets
ingest pick up after a broker restart with nothing lost.

Found by this suite (Debian's Mosquitto 2.0.11): a session that was *connected* when the
broker stopped gets its shared subscription back only when it reconnects, so messages
published between the broker's restart and ingest's reconnection are dropped (a plain
subscription, or a session offline at the restart, keeps them). That case is an expected
failure here, strict, so a broker that fixes it shows up. Also: a session first opened with
clean start and an expiry interval is not persisted at all; ingest never connects so."""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from devtools.stack.native import NativeStack
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from services.connections import parse_mqtt_url
from services.ingest.session import end_session
from tests.harness.stack import StackEndpoints

QUEUED = 200


def _client(url: str, client_id: str) -> mqtt.Client:
    endpoint = parse_mqtt_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(endpoint.username, endpoint.password)
    return client


def _connect(client: mqtt.Client, url: str, clean_start: bool) -> dict[str, bool]:
    endpoint = parse_mqtt_url(url)
    session: dict[str, bool] = {}
    connected = threading.Event()

    def on_connect(c: mqtt.Client, userdata: object, flags: mqtt.ConnectFlags, reason: object, props: object) -> None:
        session["present"] = flags.session_present
        connected.set()

    client.on_connect = on_connect
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 300
    client.connect(endpoint.host, endpoint.port, clean_start=clean_start, properties=properties)
    client.loop_start()
    assert connected.wait(15), "no CONNACK"
    return session


SHARED_ONLINE_LOSS = pytest.mark.xfail(strict=True, reason="Mosquitto 2.0.11 drops messages for a shared "
                                      "subscription whose session was connected at the restart until it reconnects")


def _publish(url: str, topic: str) -> None:
    publisher = _client(url, f"chaos-pub-{uuid.uuid4().hex[:8]}")
    _connect(publisher, url, clean_start=True)
    infos = [publisher.publish(topic, f"message {n}", qos=1) for n in range(QUEUED)]
    for info in infos:
        info.wait_for_publish(10)
    publisher.disconnect()
    publisher.loop_stop()


@pytest.mark.chaos_fast
@pytest.mark.parametrize(("shared", "online"), [
    pytest.param(False, False, id="subscription-offline"),
    pytest.param(True, False, id="shared-offline"),
    pytest.param(False, True, id="subscription-online"),
    pytest.param(True, True, id="shared-online", marks=SHARED_ONLINE_LOSS),
])
def test_queued_qos1_messages_survive_a_broker_restart(native: NativeStack, stack: StackEndpoints,
                                                       shared: bool, online: bool) -> None:
    """``online``: the subscriber is still connected when the broker stops, and the messages
    are published after the restart, before it is back (what ingest goes through)."""
    url = stack.env["COLDCHAIN_MQTT_ADMIN_URL"]
    topic = f"coldchain/chaos/persistence-{uuid.uuid4().hex[:8]}"
    subscriber_id = f"chaos-persistent-{uuid.uuid4().hex[:8]}"

    subscriber = _client(url, subscriber_id)
    _connect(subscriber, url, clean_start=False)  # as ingest connects
    subscribed = threading.Event()
    subscriber.on_subscribe = lambda *args: subscribed.set()
    subscriber.subscribe(f"$share/chaos-{uuid.uuid4().hex[:6]}/{topic}" if shared else topic, qos=1)
    assert subscribed.wait(10)
    if online:
        subscriber.loop_stop()  # still connected when the broker goes, and not reconnecting
        assert native.mosquitto.stop() and native.mosquitto.start()
        _publish(url, topic)
    else:
        subscriber.disconnect()
        subscriber.loop_stop()
        _publish(url, topic)
        assert native.mosquitto.stop() and native.mosquitto.start()

    received: list[str] = []
    all_in = threading.Event()

    def on_message(c: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        received.append(message.payload.decode())
        if len(set(received)) >= QUEUED:
            all_in.set()

    subscriber = _client(url, subscriber_id)
    subscriber.on_message = on_message
    session = _connect(subscriber, url, clean_start=False)
    try:
        all_in.wait(10)
    finally:
        subscriber.disconnect()
        subscriber.loop_stop()
        # Ended now, not left to expire: Debian's Mosquitto 2.0.11 can segfault when a session
        # restored offline from its persistence file (a later test restarts the broker) is
        # dropped by reloads (SIGHUP: every device added) and then expires. Reproduced here with
        # 10 such sessions and 5 reloads in 2 runs of 3; it killed the broker mid-suite in CI.
        end_session(url, subscriber_id)
    assert session["present"], "the broker forgot the persistent session across its restart"
    assert sorted(set(received)) == sorted(f"message {n}" for n in range(QUEUED))
    assert len(received) == QUEUED, f"{len(received) - QUEUED} messages delivered twice"
