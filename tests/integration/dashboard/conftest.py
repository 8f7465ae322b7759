"""Fixtures of the browser tests: an alert service on the pipeline's database, Chromium."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, Page, sync_playwright

from schemas.topics import ETA, EXCURSIONS
from services.kafka.groups import commit_log_end
from tests.component.alerts.local_servers import HttpScript, SmtpInbox, free_port, http_server
from tests.conftest import ARTIFACTS
from tests.harness.processes import ServiceProcess, wait_for
from tests.integration.conftest import Pipeline

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def alert_service(pipeline: Pipeline) -> Iterator[tuple[SmtpInbox, HttpScript]]:
    """``services.alerts.main`` on the pipeline's database and Kafka, reading from now on."""
    inbox, sms = SmtpInbox(), HttpScript(default=(202, {"id": "gw"}))
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    group_id = f"coldchain-alerts-dashboard-{uuid.uuid4().hex[:8]}"
    # The service then handles only what is produced from now on, not the topics' history.
    commit_log_end(pipeline.stack.kafka_bootstrap, group_id, [EXCURSIONS.name, ETA.name])
    with http_server(sms) as sms_base:
        service = ServiceProcess("services.alerts.main", {
            **pipeline.stack.env,
            "COLDCHAIN_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "COLDCHAIN_SMTP_FROM": "alerts@coldchain.test",
            "COLDCHAIN_SMS_URL": f"{sms_base}/sms",
            "COLDCHAIN_PUBLIC_URL": pipeline.api_url,
            "COLDCHAIN_ALERT_GROUP_ID": group_id,
            "COLDCHAIN_ALERT_QUIET_CHANNELS": "[]",  # the wall clock must not defer anything
            "COLDCHAIN_ALERT_POLL_INTERVAL_S": "0.2",
            "COLDCHAIN_KAFKA_SESSION_TIMEOUT_MS": "6000",
        }, ARTIFACTS / "logs", name="dashboard-alerts")
        service.start()
        try:
            wait_for(lambda: "partitions assigned: coldchain" in service.log_tail(200), 60,
                     "the alert service's partition assignment", interval_s=0.3)
            yield inbox, sms
        finally:
            service.stop()
            controller.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: `make chromium` (part of `make test`) installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, artifacts: Path) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    yield opened
    context.close()
