"""Kafka may confirm a record after ingest's MQTT session has ended (the bridge flushes the
producer once more on the way out): that late acknowledgement has no connection to go to and
must not kill the delivery thread (it did: "Event loop is closed", exit 70 instead of a clean
stop). The broker sends such a message again, and the sink drops the repeat."""

from __future__ import annotations

import asyncio

from services.connections import MqttEndpoint
from services.ingest.mqtt_session import MqttSubscriber, SessionOptions


def _ended_session() -> MqttSubscriber:
    subscriber = MqttSubscriber(MqttEndpoint("127.0.0.1", 1, None, None, False),
                                SessionOptions("ingest-test", "coldchain/v1/devices/+/+", 60, 10),
                                lambda publish, connection: None)
    subscriber.stop()  # asked to stop first: run() returns at once, and its loop is closed after
    asyncio.run(subscriber.run())
    return subscriber


def test_an_acknowledgement_after_the_session_ended_is_dropped_quietly() -> None:
    subscriber = _ended_session()
    subscriber.ack(1, 7)
    assert not subscriber.subscribed()
