"""The recipient's page (pure rendering): in the party's language, times in its zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.api.share_page import Point, ShareView, render_share_page, state_line
from services.i18n.language import language_for

T0 = datetime(2026, 11, 10, 1, 30, tzinfo=UTC)
SHIPMENT = {
    "id": "SHP-2026-0001", "deliver_by": "2026-11-11T12:00:00+00:00",
    "origin": {"name": "Halifax Stanfield (YHZ)"}, "waypoints": [{"name": "Shanghai Pudong (PVG)"}],
    "destination": {"name": "Hangzhou buyer warehouse"},
    "seller": {"name": "Shediac Lobster Co."}, "buyer": {"name": "Hangzhou Fresh Ltd."},
}
SUMMARY = {"state": "ok", "viability": "compromised", "critical_excursions": 1, "last_temp_c": 2.5,
           "forecast": {"eta": "2026-11-11T02:00:00+00:00", "viability_remaining_at_eta_h": 18.25,
                        "leg_name": "Halifax Stanfield (YHZ) -> Shanghai Pudong (PVG)"}}
FREEZE = {"kind": "temp_low", "severity": "critical", "started_at": T0, "ended_at": T0 + timedelta(minutes=20),
          "peak_c": -2.5}
ALERT = {"id": "al-1", "kind": "temp_low", "step": "opened", "severity": "critical", "event_time": T0.isoformat(),
         "found_late": True, "raised_at": T0 + timedelta(hours=5), "acknowledged": False}


def view(language: str, zone: str) -> ShareView:
    points = [Point(T0 + timedelta(minutes=m), -2.5 if m < 20 else 2.0, -2.0 if m < 20 else 3.0) for m in range(40)]
    limits = {"nominal_low_c": 0.0, "nominal_high_c": 5.0}
    return ShareView(shipment=SHIPMENT, summary=SUMMARY, limits=limits, points=points, excursions=[FREEZE],
                     alerts=[ALERT], zone=ZoneInfo(zone), party="buyer", ack_alert=ALERT,
                     lang=language_for(language))


def test_a_chinese_buyer_reads_the_page_in_chinese_with_shanghai_times() -> None:
    html = render_share_page(view("zh-CN", "Asia/Shanghai"))
    assert "<html lang='zh-CN'>" in html
    assert "货件 SHP-2026-0001" in html and "存活能力受损" in html and "严重" in html
    assert "11月10日 09:30 UTC+08:00" in html  # the freeze, in the buyer's zone
    assert "确认" in html and "Acknowledge" not in html


def test_a_french_seller_reads_it_in_french_with_accents_and_decimal_commas() -> None:
    html = render_share_page(view("fr-CA", "America/Halifax"))
    assert "Envoi SHP-2026-0001" in html and "Viabilité" in html and "18,2 h restantes" in html
    assert "-2,5 °C" in html and "UTC-04:00" in html


def test_english_is_the_default_and_the_state_says_what_happened() -> None:
    english = language_for("en")
    assert state_line(SUMMARY, english) == "ok · critical excursions: 1 · viability compromised"
    html = render_share_page(view("en", "UTC"))
    assert "Shipment SHP-2026-0001" in html and "10 Nov 01:30 UTC+00:00" in html
