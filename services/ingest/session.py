"""Retiring an ingest instance's MQTT session.

An instance's persistent session stays in its shared-subscription group after the instance
is gone, and the broker keeps queueing a share of device messages for it until the session
expires. Reconnecting with its client id, a clean start and no expiry ends it at once.
"""

from __future__ import annotations

import asyncio

from services.connections import parse_mqtt_url
from services.ingest import mqtt_session


def end_session(mqtt_url: str, client_id: str) -> None:
    asyncio.run(mqtt_session.end_session(parse_mqtt_url(mqtt_url), client_id))
