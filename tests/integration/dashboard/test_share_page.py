"""Issue 20 on the real pipeline: the links in a real alert email, opened as a mail scanner and
as a buyer on a phone would open them, in Debian's Chromium at 390 px and on a desktop."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import psycopg
from playwright.sync_api import Browser, expect

from services.alerts.ids import ack_token
from tests.component.alerts.local_servers import HttpScript, SmtpInbox
from tests.harness.processes import wait_for
from tests.integration.conftest import DevicePublisher, Pipeline, shipment_body

BUYER = "qa@buyer.example"
PHONE = {"width": 390, "height": 844}
# The constant earlier versions shipped as the acknowledgement secret.
PUBLISHED_SECRET = b"coldchain-development-ack-secret"


def _mail_to(inbox: SmtpInbox, address: str, shipment_id: str) -> EmailMessage | None:
    return next((m for m in list(inbox.messages)
                 if shipment_id in str(m["Subject"]) and address in str(m["To"])), None)


def _text(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _alerts(pipeline: Pipeline, shipment_id: str) -> list[dict]:
    with pipeline.http() as http:
        return list(http.get(f"/api/v1/shipments/{shipment_id}/alerts").json())


def test_every_link_opens_without_a_token_changes_nothing_and_only_the_button_acknowledges(
    pipeline: Pipeline, alert_service: tuple[SmtpInbox, HttpScript], browser: Browser,
    device_publisher: Callable[[str], DevicePublisher], unique: Callable[[str], str], artifacts: Path,
    db: psycopg.Connection,
) -> None:
    inbox, _ = alert_service
    shipment_id, device_id = unique("SHP-SHARE"), unique("TRK-SHARE")
    with pipeline.http() as http:
        assert http.post("/api/v1/shipments", json=shipment_body(shipment_id, [device_id])).status_code == 201
    now = datetime.now(UTC).replace(microsecond=0)
    device_publisher(device_id).publish(f"coldchain/v1/devices/{device_id}/telemetry", [
        {"device_id": device_id, "ts": (now - timedelta(minutes=m)).isoformat(), "temp_c": 12.0 if m < 30 else 3.0}
        for m in range(45, 0, -1)])
    mail = wait_for(lambda: _mail_to(inbox, BUYER, shipment_id), 90, "the buyer's alert email", interval_s=0.3)
    links = re.findall(r"https?://\S+", _text(mail))
    assert links and all(link.startswith(pipeline.api_url) for link in links)
    page_link = next(link for link in links if not link.endswith("/ack"))
    ack_link = next(link for link in links if link.endswith("/ack"))

    # A mail scanner opens every link, HEAD and GET, without any token: each is a 200, nothing changes.
    with httpx.Client(timeout=10) as scanner:
        for link in links:
            assert scanner.head(link).status_code in (200, 405)
            opened = scanner.get(link)
            assert opened.status_code == 200, (link, opened.text[:300])
            assert opened.headers["cache-control"] == "private, no-store"
    assert not any(a["acknowledged"] for a in _alerts(pipeline, shipment_id))

    # Forged and unknown links are refused.
    with httpx.Client(timeout=10) as forger:
        assert forger.get(f"{pipeline.api_url}/s/{secrets.token_urlsafe(24)}").status_code == 404
        alert_id = _alerts(pipeline, shipment_id)[0]["id"]
        forged = ack_token(alert_id, PUBLISHED_SECRET)
        assert forger.post(f"{pipeline.api_url}/alerts/{alert_id}/ack", data={"token": forged}).status_code == 404
        assert forger.post(page_link.replace(page_link.rsplit("/", 1)[1], secrets.token_urlsafe(24)) + "/ack"
                           ).status_code == 404
    assert not any(a["acknowledged"] for a in _alerts(pipeline, shipment_id))

    # The buyer on a phone: the page fits 390 px, state first, then the chart; the button acknowledges.
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    phone = context.new_page()
    phone.goto(page_link)
    expect(phone.locator("#state")).to_be_visible()
    expect(phone.locator("svg rect.excursion").first).to_be_visible()
    expect(phone.locator("svg line.limit")).to_have_count(2)
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    phone.screenshot(path=str(artifacts / "share-page-390.png"), full_page=True)
    phone.goto(ack_link)
    assert not any(a["acknowledged"] for a in _alerts(pipeline, shipment_id))  # opened: still nothing
    phone.get_by_role("button", name="Acknowledge").click()
    expect(phone.get_by_text("the alert is acknowledged")).to_be_visible()
    context.close()
    acked = [a for a in _alerts(pipeline, shipment_id) if a["acknowledged"]]
    assert len(acked) == 1 and acked[0]["acknowledged_by"] == f"buyer {BUYER} via email link"
    audit = db.execute("SELECT actor FROM audit_log WHERE table_name = 'alerts' AND row_key = %s",
                       (acked[0]["id"],)).fetchall()
    assert (f"buyer {BUYER} via email link",) in audit


def test_ops_give_the_buyer_a_link_without_an_alert_and_revoke_it(
    pipeline: Pipeline, browser: Browser, unique: Callable[[str], str], artifacts: Path,
) -> None:
    shipment_id = unique("SHP-LINK")
    with pipeline.http() as http:
        assert http.post("/api/v1/shipments", json=shipment_body(shipment_id, [unique("TRK-LINK")])).status_code == 201
        made = http.post(f"/api/v1/shipments/{shipment_id}/links", json={"party": "buyer", "days": 3})
        assert made.status_code == 201 and made.headers["location"] == f"/api/v1/links/{made.json()['id']}"
        url = made.json()["url"]
        listed = http.get(f"/api/v1/shipments/{shipment_id}/links").json()
        assert [link["id"] for link in listed] == [made.json()["id"]] and listed[0]["url"] is None
    desktop = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = desktop.new_page()
    tab.goto(url)
    expect(tab.locator("h1")).to_contain_text(shipment_id)
    expect(tab.get_by_role("button", name="Acknowledge")).to_have_count(0)  # no alert: nothing to acknowledge
    tab.screenshot(path=str(artifacts / "share-page-desktop.png"), full_page=True)
    desktop.close()
    with pipeline.http() as http:
        assert http.delete(f"/api/v1/links/{made.json()['id']}").status_code == 204
    assert httpx.get(url, timeout=10).status_code == 404
