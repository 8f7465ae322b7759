"""The ops dashboard in a real browser (Debian's Chromium, headless, driven by Playwright) on the
real pipeline: MQTT -> ingest -> Kafka -> excursions -> Kafka -> the API's live feed -> the page,
and the alert service sending over a real SMTP server (aiosmtpd) and an HTTP SMS gateway.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.harness.processes import wait_for
from tests.integration.conftest import shipment_body

LIVE_WITHIN_MS = 2000  # the bar: an excursion on screen within 2 s of the MQTT publish


def _warm_batch(device_id: str, end: datetime) -> list[dict]:
    """30 minutes at 12 C, one sample a minute, uploaded at once (a store-and-forward dump):
    longer than both alarm delays (5 min beyond 10 C, 15 min beyond 5 C)."""
    return [{"device_id": device_id, "ts": (end - timedelta(minutes=m)).isoformat(), "temp_c": 12.0,
             "humidity_pct": 90.0} for m in range(30, 0, -1)]


def test_ops_watch_an_excursion_live_acknowledge_its_alert_and_open_the_chart(
        pipeline, alert_service, page, device_publisher, unique, artifacts):
    inbox, sms = alert_service
    shipment_id, device_id = unique("SHP-DASH"), unique("TRK-DASH")
    with pipeline.http() as http:
        assert http.post("/api/v1/shipments", json=shipment_body(shipment_id, [device_id])).status_code == 201
    publisher = device_publisher(device_id)
    topic = f"coldchain/v1/devices/{device_id}/telemetry"
    now = datetime.now(UTC).replace(microsecond=0)
    # A cold reading first: the device is bound and the shipment shows "ok" before the incident.
    publisher.publish(topic, {"device_id": device_id, "ts": (now - timedelta(minutes=40)).isoformat(),
                              "temp_c": 2.5, "humidity_pct": 92.0, "lat": 44.8808, "lon": -63.5086})
    with pipeline.http() as http:
        wait_for(lambda: http.get(f"/api/v1/shipments/{shipment_id}").json()["last_reading"], 30,
                 "the first reading stored, bound to the shipment", interval_s=0.2)

    page.goto(f"{pipeline.api_url}/dashboard/")
    page.fill("#token-input", pipeline.ops_token)
    page.click("#login-button")
    expect(page.locator("#feed-state")).to_have_attribute("data-state", "live", timeout=10_000)
    row = page.locator(f'#fleet-table tr[data-shipment="{shipment_id}"]')
    expect(row).to_have_attribute("data-state", "ok", timeout=10_000)

    published = time.monotonic()
    publisher.publish(topic, _warm_batch(device_id, now))
    left_ms = LIVE_WITHIN_MS - (time.monotonic() - published) * 1000
    excursion_line = page.locator(f'#events li[data-type="excursion"][data-shipment="{shipment_id}"]').first
    expect(excursion_line).to_be_visible(timeout=max(left_ms, 1))
    expect(excursion_line).to_contain_text("temp_high")
    expect(row).to_have_attribute("data-state", "excursion", timeout=10_000)

    # The shipment page: the alert arrives with its deliveries, and ops acknowledge it.
    excursion_line.get_by_role("link", name=shipment_id).click()
    expect(page.locator("#shipment-title")).to_have_text(shipment_id)
    alert_row = page.locator("#alerts-table tr[data-alert]").first
    # Up to a minute: a step found late waits COLDCHAIN_ALERT_FOUND_LATE_HOLD_S (30 s) for the
    # rest of its backlog before it is sent, and in a full run that came within a second of 30 s.
    expect(alert_row.locator('.delivery[data-status="sent"]').first).to_be_visible(timeout=60_000)
    alert_id = alert_row.get_attribute("data-alert")
    alert_row.locator("button.ack").click()
    expect(page.locator(f'#alerts-table tr[data-alert="{alert_id}"]')).to_have_attribute(
        "data-acknowledged", "true", timeout=10_000)
    with pipeline.http() as http:
        alerts = {a["id"]: a for a in http.get(f"/api/v1/shipments/{shipment_id}/alerts").json()}
    assert alerts[alert_id]["acknowledged"] and alerts[alert_id]["acknowledged_by"].startswith("ops:")
    assert any(shipment_id in str(m["Subject"]) for m in inbox.messages)

    # The chart: the readings, the limits and the excursion drawn; the route schematic.
    expect(page.locator("#chart polyline.temp")).to_have_count(1)
    assert len(page.locator("#chart polyline.temp").get_attribute("points").split()) == 31
    expect(page.locator("#chart line.limit.critical")).to_have_count(2)
    expect(page.locator("#chart rect.excursion").first).to_be_visible()
    expect(page.locator("#route line.leg")).to_have_count(2)
    expect(page.locator("#excursions-table tr[data-excursion]").first).to_contain_text("temp_high")
    page.screenshot(path=str(artifacts / "dashboard-shipment.png"), full_page=True)
    page.goto(f"{pipeline.api_url}/dashboard/#/")
    expect(row).to_be_visible()
    page.screenshot(path=str(artifacts / "dashboard-fleet.png"), full_page=True)


def test_the_dashboard_on_a_phone_shows_the_fleet_without_the_events_covering_it_and_searches(
        pipeline, browser, unique, artifacts):
    ours, other = unique("SHP-PHONE"), unique("SHP-ELSE")
    with pipeline.http() as http:
        for shipment_id in (ours, other):
            assert http.post("/api/v1/shipments", json=shipment_body(shipment_id, [unique("TRK-PHONE")])
                             ).status_code == 201
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2)
    phone = context.new_page()
    phone.goto(f"{pipeline.api_url}/dashboard/")
    phone.fill("#token-input", pipeline.ops_token)
    phone.click("#login-button")
    phone.fill("#fleet-search", ours)
    row = phone.locator(f'#fleet-table tr[data-shipment="{ours}"]')
    expect(row).to_be_visible(timeout=10_000)
    expect(phone.locator(f'#fleet-table tr[data-shipment="{other}"]')).to_have_count(0)
    table, events = phone.locator("#fleet-table").bounding_box(), phone.locator("#stream").bounding_box()
    assert table and events
    assert events["y"] >= table["y"] + table["height"], "the live events cover the fleet"
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= 390
    phone.screenshot(path=str(artifacts / "dashboard-fleet-390.png"), full_page=True)
    context.close()
