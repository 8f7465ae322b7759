"""The whole pipeline — ingest, sink, excursions, eta, alerts, api — as real processes on the
native stack, with a real SMTP server (aiosmtpd) counting what the alert service sends.

The fault suite kills these processes and restarts the stack's own servers, so it runs only
on the native stack, whose Kafka, Mosquitto and PostgreSQL it can stop and start.

Every consumer group here is this suite's own and starts at the current end of its topics,
so neither earlier runs' data nor another pipeline on the same stack is replayed or shared.

`make test` runs the faults marked ``chaos_fast``; `make chaos` (``COLDCHAIN_CHAOS=all``)
runs every one.
"""

from __future__ import annotations

import email.message
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from aiosmtpd.controller import Controller
from devtools.stack.layout import StackLayout, default_root
from devtools.stack.native import NativeStack

from services.api.tokens import create_token
from services.ingest.session import end_session
from services.kafka.groups import commit_log_end
from services.kafka.topics import ensure_topics
from tests.component.alerts.local_servers import SmtpInbox, free_port
from tests.conftest import ARTIFACTS
from tests.harness.processes import ServiceProcess, wait_for, wait_for_http
from tests.harness.stack import StackEndpoints

FAUST = ("excursions", "eta")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("COLDCHAIN_CHAOS") == "all":
        return
    slow = [item for item in items if "tests/chaos" in str(item.fspath) and not item.get_closest_marker("chaos_fast")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item not in slow]


@pytest.fixture(scope="module")
def native(stack: StackEndpoints) -> NativeStack:
    if stack.kind != "native":
        pytest.skip(f"the fault suite stops and starts Kafka, Mosquitto and PostgreSQL itself: it needs the "
                    f"native stack (`coldchain stack up`), not {stack.kind}")
    return NativeStack(StackLayout(default_root()))


@dataclass
class ChaosPipeline:
    native: NativeStack
    env: dict[str, str]
    api_url: str
    ops_token: str
    services: dict[str, ServiceProcess]
    inbox: SmtpInbox

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=30, headers={"Authorization": f"Bearer {self.ops_token}"})

    def mails_for(self, shipment_ids: set[str]) -> list[email.message.EmailMessage]:
        return [m for m in list(self.inbox.messages) if str(m["Subject"]).strip().rsplit(" - ", 1)[-1] in shipment_ids]

    def dead(self) -> list[str]:
        return [name for name, service in self.services.items() if not service.alive()]

    def wait_ready(self, name: str) -> None:
        service = self.services[name]
        if name == "ingest":
            wait_for(lambda: service.log_tail(5000).count("subscribed to") > self.subscriptions, 60,
                     "ingest's subscription")
            self.subscriptions = service.log_tail(5000).count("subscribed to")
        elif name in FAUST:
            wait_for(service.ready, 120, f"the {name} processor", interval_s=0.3)
        elif name == "api":
            wait_for_http(f"{self.api_url}/openapi.json", 60, service)

    subscriptions: int = 0


@pytest.fixture(scope="module")
def chaos(native: NativeStack, stack: StackEndpoints) -> Iterator[ChaosPipeline]:
    run = uuid.uuid4().hex[:8]
    inbox = SmtpInbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    groups = {"sink": f"chaos-sink-{run}", "alerts": f"chaos-alerts-{run}",
              "excursions": "coldchain-chaos-excursions", "eta": "coldchain-chaos-eta"}
    ensure_topics({"bootstrap.servers": stack.kafka_bootstrap})
    for group in groups.values():
        commit_log_end(stack.kafka_bootstrap, group)
    data = default_root() / "data" / "chaos"
    data.mkdir(parents=True, exist_ok=True)  # faust makes its data dir, not the parents
    env = {
        **stack.env,
        "COLDCHAIN_HTTP_PORT": str(api_port),
        "COLDCHAIN_PUBLIC_URL": api_url,
        "COLDCHAIN_INGEST_CLIENT_ID": f"chaos-ingest-{run}",
        "COLDCHAIN_INGEST_SHARE_GROUP": "",  # the default: one ingest, a plain subscription
        "COLDCHAIN_INGEST_SESSION_EXPIRY_S": "600",
        "COLDCHAIN_INGEST_METRICS_PORT": "0",
        "COLDCHAIN_SINK_METRICS_PORT": "0",
        "COLDCHAIN_EXCURSIONS_METRICS_PORT": "0",
        "COLDCHAIN_ETA_METRICS_PORT": "0",
        "COLDCHAIN_RETENTION_METRICS_PORT": "0",
        "COLDCHAIN_SINK_GROUP_ID": groups["sink"],
        "COLDCHAIN_EXCURSIONS_APP_ID": groups["excursions"],
        "COLDCHAIN_EXCURSIONS_DATA_DIR": str(data / "excursions"),
        "COLDCHAIN_ETA_APP_ID": groups["eta"],
        "COLDCHAIN_ETA_DATA_DIR": str(data / "eta"),
        "COLDCHAIN_ALERT_GROUP_ID": groups["alerts"],
        "COLDCHAIN_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
        "COLDCHAIN_SMTP_FROM": "alerts@coldchain.test",
        "COLDCHAIN_ALERT_QUIET_CHANNELS": "[]",  # the wall clock must not defer anything
        # The traffic replays hours past as fast as it can, as live tracking: not a backlog.
        "COLDCHAIN_ALERT_FOUND_LATE_AFTER_MIN": "600",
        "COLDCHAIN_ALERT_BACKOFF_BASE_S": "0.5",
        "COLDCHAIN_ALERT_BACKOFF_CAP_S": "2",
        "COLDCHAIN_ALERT_POLL_INTERVAL_S": "0.3",
        "COLDCHAIN_ALERT_CLAIM_LEASE_S": "5",
        "COLDCHAIN_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "COLDCHAIN_ALERT_RECORD_RETRY_S": "0.5",
    }
    logs = ARTIFACTS / "logs" / "chaos"
    modules = {"api": "services.api.main", "sink": "services.sink.main", "ingest": "services.ingest.main",
               "excursions": "services.excursions.main", "eta": "services.eta.app", "alerts": "services.alerts.main"}
    services = {name: ServiceProcess(module, env, logs, name=name) for name, module in modules.items()}
    pipeline = ChaosPipeline(native, env, api_url, "", services, inbox)
    try:
        for name in modules:
            services[name].start()
            if name in ("api", "ingest"):
                pipeline.wait_ready(name)
        for name in FAUST:
            pipeline.wait_ready(name)
        wait_for(lambda: "partitions assigned: coldchain" in services["alerts"].log_tail(200), 60,
                 "the alert service's partitions")
        pipeline.ops_token = create_token(stack.database_url, "ops", None)
        yield pipeline
    finally:
        for service in services.values():
            service.stop()
        smtp.stop()
        end_session(stack.env["COLDCHAIN_MQTT_URL"], env["COLDCHAIN_INGEST_CLIENT_ID"])
