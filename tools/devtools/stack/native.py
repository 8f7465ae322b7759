"""The native local stack: installs once, starts, stops and reports its three servers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from devtools.stack.kafka import Kafka
from devtools.stack.layout import StackLayout
from devtools.stack.mosquitto import Mosquitto
from devtools.stack.ports import StackPorts
from devtools.stack.postgres import Postgres
from devtools.stack.process import step
from devtools.stack.secrets import StackSecrets


class Component(Protocol):
    name: str

    @property
    def endpoint(self) -> str: ...

    def install(self) -> None: ...

    def start(self) -> bool: ...

    def stop(self) -> bool: ...

    def answers(self) -> bool: ...


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    endpoint: str
    answers: bool


class NativeStack:
    def __init__(self, layout: StackLayout, ports: StackPorts | None = None) -> None:
        self.layout = layout
        self.ports = ports or StackPorts.from_env()
        self.secrets = StackSecrets.load_or_create(layout.secrets_file)
        self.postgres = Postgres(layout, self.ports, self.secrets)
        self.mosquitto = Mosquitto(layout, self.ports, self.secrets)
        self.kafka = Kafka(layout, self.ports)

    @property
    def components(self) -> tuple[Component, ...]:
        return (self.postgres, self.mosquitto, self.kafka)

    def env(self) -> dict[str, str]:
        return {
            "COLDCHAIN_MQTT_URL": self.mosquitto.ingest_url,
            "COLDCHAIN_MQTT_ADMIN_URL": self.mosquitto.admin_url,
            "COLDCHAIN_MQTT_DEVICE_URL": self.mosquitto.endpoint,
            "COLDCHAIN_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
            "COLDCHAIN_DATABASE_URL": self.postgres.url,
            **self.postgres.role_urls(),  # each service's own role (README, Database roles)
            "COLDCHAIN_ALERT_ACK_SECRET": self.secrets.alert_ack_secret,
            # The processors' local state stays with this checkout's stack.
            "COLDCHAIN_EXCURSIONS_DATA_DIR": str(self.layout.data / "faust-excursions"),
            "COLDCHAIN_ETA_DATA_DIR": str(self.layout.data / "faust-eta"),
        }

    def install(self) -> None:
        self.layout.make()
        for component in self.components:
            component.install()

    def up(self) -> list[str]:
        """Starts what is not running; returns the names it started."""
        self.install()
        started = []
        for component in self.components:
            if component.start():
                step(f"{component.name}: up at {component.endpoint}")
                started.append(component.name)
        applied = self.postgres.prepare()  # the owner migrates; services never do
        if applied:
            step(f"timescaledb: applied {', '.join(applied)}")
        self.layout.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.env().items()))
        self.layout.env_file.chmod(0o600)
        return started

    def down(self, only: list[str] | None = None) -> list[str]:
        stopped = []
        for component in reversed(self.components):
            if only is not None and component.name not in only:
                continue
            if component.stop():
                stopped.append(component.name)
        if only is None:
            self.layout.env_file.unlink(missing_ok=True)
        return stopped

    def status(self) -> list[ComponentStatus]:
        return [ComponentStatus(c.name, c.endpoint, c.answers()) for c in self.components]
