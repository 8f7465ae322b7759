"""Loopback ports of the native stack, chosen apart from the services' usual defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class StackPorts:
    host: str = "127.0.0.1"
    kafka: int = 19092
    kafka_controller: int = 19093
    mqtt: int = 11883  # devices: a client's id is its username, so none can take another's session
    mqtt_services: int = 11884  # ingest and the load generator, with accounts of their own
    postgres: int = 55432

    @classmethod
    def from_env(cls) -> StackPorts:
        """``COLDCHAIN_STACK_PORT_OFFSET`` shifts every port, so two checkouts can each run a stack."""
        raw = os.environ.get("COLDCHAIN_STACK_PORT_OFFSET", "0")
        try:
            offset = int(raw)
        except ValueError as exc:
            raise ValueError(f"COLDCHAIN_STACK_PORT_OFFSET must be an integer, not {raw!r}") from exc
        base = cls()
        return cls(base.host, base.kafka + offset, base.kafka_controller + offset,
                   base.mqtt + offset, base.mqtt_services + offset, base.postgres + offset)
