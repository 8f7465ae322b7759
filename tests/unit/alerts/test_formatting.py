from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.alert import Alert, AlertFigures, AlertPlace
from services.alerts.formatting import (
    SMS_MAX_SEGMENTS,
    LinkConfig,
    fit_sms,
    format_email,
    format_sms,
    local_span,
    local_time,
    shipment_url,
)
from services.alerts.ids import ack_code, alert_id
from services.alerts.sms_encoding import is_gsm7, sms_size

LINKS = LinkConfig(public_url="https://coldchain.example/", ack_secret=b"test-secret")
SHANGHAI = ZoneInfo("Asia/Shanghai")
HALIFAX = ZoneInfo("America/Halifax")
READ_AT = datetime(2026, 11, 10, 3, 12, 40, tzinfo=UTC)
FLIGHT = AlertPlace(
    name="flight Halifax Stanfield (YHZ) -> Shanghai Pudong (PVG) (booked)",
    short="flight YHZ->PVG",
    leg_index=0,
    mode="air",
    timezone="America/Halifax",
)


def _alert(
    shipment_id: str = "SHP-2026-0001",
    step: str = "opened",
    reasons: tuple[str, ...] = (),
    device_id: str = "TRK-0001",
    **fields: Any,
) -> Alert:
    return Alert.model_validate(
        {
            "id": alert_id("exc-1", step),
            "trigger_id": "exc-1",
            "shipment_id": shipment_id,
            "kind": "temp_high",
            "step": step,
            "severity": "critical",
            "event_time": READ_AT,
            "figures": AlertFigures(
                device_id=device_id,
                reading_time=READ_AT,
                temp_c=11.3,
                peak_c=12.6,
                low_limit=-1.0,
                high_limit=10.0,
                degree_minutes=42.0,
                reasons=reasons,
            ).model_copy(update=fields.pop("figures", {})),
            **fields,
        }
    )


def _freeze(ended: bool = True) -> Alert:
    """The night-time freeze of issue 19, found in the landed backlog."""
    return _alert(
        step="opened",
        kind="temp_low",
        found_late=True,
        figures={
            "temp_c": None,
            "peak_c": -2.5,
            "high_limit": 10.0,
            "started_at": datetime(2026, 11, 10, 1, 30, tzinfo=UTC),
            "ended_at": datetime(2026, 11, 10, 1, 50, tzinfo=UTC) if ended else None,
            "duration_min": 20.0 if ended else None,
            "reading_time": datetime(2026, 11, 10, 1, 56 if ended else 40, tzinfo=UTC),
            "received_at": datetime(2026, 11, 10, 6, 10, tzinfo=UTC),
            "place": FLIGHT,
        },
    )


def test_local_times_carry_the_utc_offset_and_zone_never_an_abbreviation() -> None:
    assert local_time(READ_AT, SHANGHAI) == "10 Nov 11:12 UTC+08:00 (Asia/Shanghai)"
    assert local_time(READ_AT, HALIFAX) == "09 Nov 23:12 UTC-04:00 (America/Halifax)"
    assert local_time(READ_AT, UTC) == "10 Nov 03:12 UTC"
    assert local_time(READ_AT, ZoneInfo("Asia/Kolkata")) == "10 Nov 08:42 UTC+05:30 (Asia/Kolkata)"
    end = READ_AT.replace(hour=3, minute=40)
    assert local_span(READ_AT, end, SHANGHAI) == "10 Nov 11:12-11:40 UTC+08:00 (Asia/Shanghai)"
    # Halifax leaves daylight time on 1 Nov 2026 at 02:00: each end says its own offset.
    dst = local_span(datetime(2026, 11, 1, 4, 30, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC), HALIFAX)
    assert dst == "01 Nov 01:30 UTC-03:00 (America/Halifax) - 01 Nov 02:30 UTC-04:00 (America/Halifax)"


def test_sms_has_the_reading_in_the_recipients_zone_and_the_reply_code() -> None:
    alert = _alert()
    sms = format_sms(alert, "+8657155500100", "dl-1", SHANGHAI, LINKS)
    assert sms.size.segments == 1 and sms.size.encoding == "GSM-7"
    assert sms.body.startswith("CRITICAL SHP-2026-0001: Temperature high started")
    assert sms.body.endswith(f"Reply ACK {ack_code(alert.id, LINKS.ack_secret)}")
    assert "12.6C" in sms.body and "10.0C" in sms.body
    assert "10 Nov 11:12 UTC+08:00 (Asia/Shanghai)" in sms.body  # the device time, in the recipient's zone
    assert "CST" not in sms.body


def test_sms_gives_the_places_zone_too_when_the_route_knows_where_it_was() -> None:
    alert = _alert(figures={"place": FLIGHT})
    sms = format_sms(alert, "+8657155500100", "dl-1", SHANGHAI, LINKS)
    assert "10 Nov 11:12 UTC+08:00 (Asia/Shanghai) / 09 Nov 23:12 UTC-04:00 (America/Halifax)" in sms.body
    assert "flight YHZ->PVG" in sms.body
    seller = format_sms(alert, "+19025550100", "dl-2", HALIFAX, LINKS)
    assert seller.body.count("America/Halifax") == 1  # the same zone is not said twice


def test_found_late_sms_says_it_happened_when_for_how_long_and_where() -> None:
    alert = _freeze()
    sms = format_sms(alert, "+8657155500100", "dl-1", SHANGHAI, LINKS)
    assert sms.body.startswith("CRITICAL SHP-2026-0001: Temperature low found in uploaded backlog. ")
    assert "10 Nov 09:30-09:50 UTC+08:00 (Asia/Shanghai) / 09 Nov 21:30-21:50 UTC-04:00 (America/Halifax)" in sms.body
    assert "20 min" in sms.body and "-2.5C" in sms.body and "flight YHZ->PVG" in sms.body
    assert "ended" not in sms.body
    # Over already, but nobody has heard of it: it is acknowledged like any news.
    assert sms.body.endswith(f"Reply ACK {ack_code(alert.id, LINKS.ack_secret)}")
    assert sms.size.segments <= SMS_MAX_SEGMENTS


def test_found_late_sms_of_an_excursion_still_open_says_so() -> None:
    sms = format_sms(_freeze(ended=False), "+19025550100", "dl-1", HALIFAX, LINKS)
    assert "since 09 Nov 21:30 UTC-04:00 (America/Halifax)" in sms.body
    assert "still out of range, 10 min so far" in sms.body


def test_found_late_email_tells_start_end_duration_place_and_the_backlog() -> None:
    mail = format_email(_freeze(), "qa@buyer.example", "Hangzhou Fresh", "dl-1", SHANGHAI, LINKS)
    assert mail.subject == "[coldchain] CRITICAL: Temperature low found in uploaded backlog - SHP-2026-0001"
    for part in (mail.text, mail.html):
        assert "found in the readings the tracker uploaded later" in part
        assert "uploaded at 10 Nov 14:10 UTC+08:00 (Asia/Shanghai)" in part
        assert "10 Nov 09:30 UTC+08:00 (Asia/Shanghai) / 09 Nov 21:30 UTC-04:00 (America/Halifax)" in part
        assert "(2026-11-10 01:50:00 UTC)" in part
        assert "20 min" in part and "-2.5°C" in part
        assert "flight Halifax Stanfield (YHZ) -&gt; Shanghai Pudong (PVG)" in part or "(YHZ) -> Shanghai" in part
        assert "It is over." in part
        assert shipment_url("dl-1", LINKS) + "/ack" in part


def test_long_sms_is_shortened_in_the_detail_keeping_head_and_code() -> None:
    alert = _alert(
        shipment_id="S" * 40,
        device_id="D" * 60,
        reasons=("hold at Anchorage extended by 6 h", "viability budget below 20 %", "€€€€" * 30),
    )
    sms = format_sms(alert, "+8657155500100", "dl-1", SHANGHAI, LINKS)
    code = ack_code(alert.id, LINKS.ack_secret)
    assert sms.size.segments <= SMS_MAX_SEGMENTS
    assert sms.body.startswith(f"CRITICAL {'S' * 40}: Temperature high started")
    assert sms.body.endswith(f"Reply ACK {code}")
    assert ".." in sms.body


def test_fit_sms_cuts_the_head_when_even_head_and_tail_are_too_long() -> None:
    body = fit_sms("H" * 600, "detail", "Reply ACK ABCDEF")
    assert sms_size(body).segments <= SMS_MAX_SEGMENTS and body.endswith("Reply ACK ABCDEF")


def test_fit_sms_leaves_a_short_message_alone() -> None:
    assert fit_sms("head", "some detail", "tail") == "head. some detail. tail"


def test_fit_sms_keeps_french_and_chinese_and_fits_ucs2_segments() -> None:
    body = fit_sms("Entrepôt de Québec", "杭州买家仓库 " * 30, "Reply ACK ABCDEF", max_segments=2)
    assert body.startswith("Entrepôt de Québec. 杭州买家仓库") and body.endswith("Reply ACK ABCDEF")
    size = sms_size(body)
    assert size.encoding == "UCS-2" and size.segments == 2 and ".." in body


def test_fit_sms_makes_typographic_punctuation_plain_only_to_stay_gsm7() -> None:
    assert fit_sms("4.2°C “ok” – Montréal", "", "") == '4.2C "ok" - Montréal'
    assert is_gsm7(fit_sms("4.2°C “ok” – Montréal", "", ""))
    # Côte needs UCS-2 anyway: then nothing is replaced.
    assert fit_sms("4.2°C “ok” – Côte", "", "") == "4.2°C “ok” – Côte"


def test_closing_sms_has_no_reply_code() -> None:
    sms = format_sms(_alert(step="closed"), "+1", "dl-1", SHANGHAI, LINKS)
    assert "ACK" not in sms.body and "ended" in sms.body


def test_email_has_the_facts_the_shipment_link_and_an_ack_link() -> None:
    alert = _alert(reasons=("door <open>",))
    mail = format_email(alert, "qa@buyer.example", "Hangzhou Fresh", "dl-1", SHANGHAI, LINKS)
    page = shipment_url("dl-1", LINKS)
    assert page.startswith("https://coldchain.example/s/") and len(page.rsplit("/", 1)[1]) == 32
    assert "SHP-2026-0001" in mail.subject and "CRITICAL" in mail.subject
    for part in (mail.text, mail.html):
        assert page in part and page + "/ack" in part
        assert "12.6°C" in part and "11.3°C" in part
        assert "-1.0°C to 10.0°C" in part
        assert "2026-11-10 03:12:40 UTC" in part
    assert "door &lt;open&gt;" in mail.html and "<open>" not in mail.html
    assert "door <open>" in mail.text


def test_each_recipient_and_channel_gets_a_link_of_its_own_that_only_the_secret_makes() -> None:
    other_secret = LinkConfig(public_url=LINKS.public_url, ack_secret=b"another deployment's secret")
    links = {shipment_url("dl-1", LINKS), shipment_url("dl-2", LINKS), shipment_url("dl-1", other_secret)}
    assert len(links) == 3
    assert shipment_url("dl-1", LINKS) == shipment_url("dl-1", LINKS)  # a retried email: the same link


def test_a_lost_shipment_reads_as_lost_with_its_time_not_as_an_episode() -> None:
    lost = Alert.model_validate({
        "id": alert_id("SHP-2026-0001:viability_lost", "opened"),
        "trigger_id": "SHP-2026-0001:viability_lost",
        "shipment_id": "SHP-2026-0001",
        "kind": "viability_lost",
        "step": "opened",
        "severity": "critical",
        "event_time": READ_AT,
        "figures": AlertFigures(temp_c=1.2, lost_at=datetime(2026, 11, 9, 22, 40, tzinfo=UTC),
                                reasons=("frozen: modelled body temperature too long at the freezing limit",)),
    })
    sms = format_sms(lost, "+8613800000000", "dl-1", SHANGHAI, LINKS)
    assert sms.body.startswith("CRITICAL SHP-2026-0001: Viability lost.")
    assert "lost 10 Nov 06:40 UTC+08:00 (Asia/Shanghai)" in sms.body and sms.size.segments <= SMS_MAX_SEGMENTS
    email = format_email(lost, "qa@buyer.example", "Buyer", "dl-2", SHANGHAI, LINKS)
    assert email.subject == "[coldchain] CRITICAL: Viability lost - SHP-2026-0001"
    assert "Lost at" in email.text and "10 Nov 06:40 UTC+08:00 (Asia/Shanghai)" in email.text
    assert "frozen" in email.text
