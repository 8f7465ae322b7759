"""Ingest's MQTT session (services/ingest/mqtt_session.py) against the real Mosquitto: what it
acknowledges is gone, what it does not is sent again, and a refusal says why."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from services.connections import parse_mqtt_url
from services.ingest.mqtt_session import MqttSubscriber, SessionOptions
from services.ingest.mqtt_wire import DISCONNECT_PACKET, Publish, connect_packet
from services.ingest.session import end_session
from tests.harness.processes import wait_for
from tests.harness.stack import StackEndpoints


class Running:
    """A subscriber on its own thread and loop, as ingest runs it; what arrives is queued."""

    def __init__(self, url: str, options: SessionOptions) -> None:
        self.arrived: queue.Queue[tuple[Publish, int]] = queue.Queue()
        self.subscriber = MqttSubscriber(parse_mqtt_url(url), options, lambda p, c: self.arrived.put((p, c)))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.subscriber.run()), daemon=True)
        self.thread.start()

    def take(self, count: int, timeout_s: float = 15) -> list[tuple[Publish, int]]:
        return [self.arrived.get(timeout=timeout_s) for _ in range(count)]

    def stop(self) -> None:
        self.subscriber.stop()
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def subscribe(stack: StackEndpoints) -> Iterator[Callable[..., Running]]:
    made: list[Running] = []

    def start(options: SessionOptions, url: str | None = None) -> Running:
        running = Running(url or stack.env["COLDCHAIN_MQTT_URL"], options)
        made.append(running)
        return running

    yield start
    for running in made:
        running.stop()


def _subscribed(subscribe: Callable[..., Running], unique: Callable[[str], str]) -> tuple[str, SessionOptions, Running]:
    """A device's topic, and a running subscriber to it with a session of its own."""
    device_id = unique("SESS")
    options = _options(device_id)
    running = subscribe(options)
    wait_for(running.subscriber.subscribed, 15, "the subscription")
    return device_id, options, running


def _options(device_id: str) -> SessionOptions:
    return SessionOptions(client_id=f"test-session-{uuid.uuid4().hex[:8]}",
                          topic_filter=f"coldchain/v1/devices/{device_id}/telemetry",
                          session_expiry_s=300, receive_maximum=100, min_backoff_s=0.2, max_backoff_s=0.5)


def test_acknowledged_messages_are_gone_and_the_others_come_again(stack, subscribe, device_publisher, unique):
    device_id, options, first = _subscribed(subscribe, unique)
    topic = f"coldchain/v1/devices/{device_id}/telemetry"
    publisher = device_publisher(device_id)
    for n in range(10):
        publisher.publish(topic, f'{{"n": {n}}}'.encode())
    got = first.take(10)
    assert [p.payload for p, _ in got] == [f'{{"n": {n}}}'.encode() for n in range(10)]
    assert {p.topic for p, _ in got} == {topic} and {p.qos for p, _ in got} == {1}
    for publish, connection in got[:6]:
        first.subscriber.ack(connection, publish.packet_id)
    first.stop()

    again = subscribe(options)  # the same client id: the persistent session resumes
    resent = again.take(4)
    assert sorted(p.payload for p, _ in resent) == [f'{{"n": {n}}}'.encode() for n in range(6, 10)]
    assert all(p.dup for p, _ in resent)
    for publish, connection in resent:
        again.subscriber.ack(connection, publish.packet_id)
    publisher.publish(topic, b'{"n": 10}')
    (latest, _), = again.take(1)
    assert latest.payload == b'{"n": 10}' and not latest.dup
    with pytest.raises(queue.Empty):
        again.arrived.get(timeout=1)  # nothing acknowledged came back


async def _take_over(url: str, client_id: str) -> None:
    """Connects as ``client_id`` (resuming its session, which ends the other connection's)
    and leaves at once, acknowledging nothing."""
    endpoint = parse_mqtt_url(url)
    reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
    writer.write(connect_packet(client_id, username=endpoint.username, password=endpoint.password, keepalive_s=30,
                                clean_start=False, session_expiry_s=300, receive_maximum=10))
    await reader.read(4)  # CONNACK
    writer.write(DISCONNECT_PACKET)
    await writer.drain()
    writer.close()


def test_an_acknowledgement_from_before_a_reconnect_is_not_sent(stack, subscribe, device_publisher, unique):
    # After a reconnect the broker sends the unacknowledged message again, perhaps under the
    # same packet id; a PUBACK naming the connection before must not acknowledge it.
    device_id, options, running = _subscribed(subscribe, unique)
    topic = f"coldchain/v1/devices/{device_id}/telemetry"
    device_publisher(device_id).publish(topic, b'{"n": 1}')
    (publish, connection), = running.take(1)
    asyncio.run(_take_over(stack.env["COLDCHAIN_MQTT_URL"], options.client_id))
    (resent, reconnected), = running.take(1)  # it connected again by itself
    assert resent.payload == b'{"n": 1}' and resent.dup and reconnected == connection + 1
    running.subscriber.ack(connection, publish.packet_id)  # the connection before's: dropped
    running.stop()
    again = subscribe(options)
    (still, now), = again.take(1)
    assert still.payload == b'{"n": 1}'
    again.subscriber.ack(now, still.packet_id)


def test_a_refused_login_is_logged_with_its_reason_and_retried(stack, subscribe, unique, caplog):
    endpoint = parse_mqtt_url(stack.env["COLDCHAIN_MQTT_URL"])
    if endpoint.username is None:
        pytest.skip("this broker takes anyone")
    wrong = stack.env["COLDCHAIN_MQTT_URL"].replace(f":{endpoint.password}@", ":not-the-password@")
    with caplog.at_level(logging.WARNING, logger="services.ingest.mqtt_session"):
        running = subscribe(_options(unique("SESS")), url=wrong)
        wait_for(lambda: sum("refused" in r.getMessage() for r in caplog.records) >= 2, 15, "two refusals")
    assert not running.subscriber.subscribed()
    assert any("bad user name or password" in r.getMessage() or "not authorized" in r.getMessage()
               for r in caplog.records)


def test_a_subscription_the_broker_will_not_take_is_not_taken_for_ready(stack, subscribe, unique, caplog):
    # Mosquitto grants any valid filter (its ACL applies per message) and ends the connection
    # over an invalid one, with the reason.
    options = replace(_options(unique("SESS")), topic_filter="coldchain/#/telemetry")
    with caplog.at_level(logging.WARNING, logger="services.ingest.mqtt_session"):
        running = subscribe(options)
        wait_for(lambda: any("malformed packet (0x81)" in r.getMessage() for r in caplog.records), 15,
                 "the broker's reason")
    assert not running.subscriber.subscribed()


def test_an_ended_session_keeps_nothing_queued(stack, subscribe, device_publisher, unique):
    device_id, options, first = _subscribed(subscribe, unique)
    topic = f"coldchain/v1/devices/{device_id}/telemetry"
    first.stop()
    publisher = device_publisher(device_id)
    publisher.publish(topic, b'{"queued": true}')  # queued for the stopped session
    end_session(stack.env["COLDCHAIN_MQTT_URL"], options.client_id)
    again = subscribe(options)
    wait_for(again.subscriber.subscribed, 15, "the new subscription")
    publisher.publish(topic, b'{"queued": false}')
    (publish, _), = again.take(1)
    assert publish.payload == b'{"queued": false}'
