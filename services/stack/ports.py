"""Loopback ports of the native stack, chosen apart from the services' usual defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StackPorts:
    host: str = "127.0.0.1"
    kafka: int = 19092
    kafka_controller: int = 19093
    mqtt: int = 11883
    postgres: int = 55432
