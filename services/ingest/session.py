"""Retiring an ingest instance's MQTT session.

An instance's persistent session stays in its shared-subscription group after the instance
is gone, and the broker keeps queueing a share of device messages for it until the session
expires. Reconnecting with its client id, a clean start and no expiry ends it at once.
"""

from __future__ import annotations

import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from services.connections import parse_mqtt_url


def end_session(mqtt_url: str, client_id: str) -> None:
    endpoint = parse_mqtt_url(mqtt_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    client.connect(endpoint.host, endpoint.port, clean_start=True)
    client.loop_start()
    time.sleep(0.3)  # let CONNECT/CONNACK complete before the clean DISCONNECT
    client.disconnect()
    client.loop_stop()
