from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from schemas.alert import Alert, AlertFigures
from services.alerts.formatting import (
    GSM7_BASIC,
    GSM7_EXTENDED,
    SMS_LIMIT,
    LinkConfig,
    fit_sms,
    format_email,
    format_sms,
    gsm7_length,
    to_gsm7,
)
from services.alerts.ids import ack_code, alert_id

LINKS = LinkConfig(public_url="https://coldchain.example/", ack_secret=b"test-secret")
SHANGHAI = ZoneInfo("Asia/Shanghai")
READ_AT = datetime(2026, 11, 10, 3, 12, 40, tzinfo=UTC)


def _alert(
    shipment_id: str = "SHP-2026-0001",
    step: str = "opened",
    reasons: tuple[str, ...] = (),
    device_id: str = "TRK-0001",
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
            ),
        }
    )


def _all_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def test_to_gsm7_replaces_what_gsm7_lacks_and_keeps_what_it_has() -> None:
    out = to_gsm7("4.2°C “ok” – Québec Côte 杭州 €5 …")
    assert _all_gsm7(out)
    assert "Québec" in out  # é is in the GSM-7 alphabet
    assert "Cote" in out  # ô is not: the accent goes
    assert "4.2C" in out and '"ok"' in out and "€5" in out and "..." in out
    assert "??" in out  # the two Chinese characters


def test_gsm7_length_counts_extension_characters_twice() -> None:
    assert gsm7_length("abc") == 3
    assert gsm7_length("a€[") == 5


def test_sms_is_one_gsm7_segment_with_the_reply_code() -> None:
    alert = _alert()
    sms = format_sms(alert, "+8657155500100", "dl-1", SHANGHAI, LINKS)
    assert gsm7_length(sms.body) <= SMS_LIMIT and _all_gsm7(sms.body)
    assert sms.body.startswith("CRITICAL SHP-2026-0001: Temperature high started")
    assert sms.body.endswith(f"Reply ACK {ack_code(alert.id, LINKS.ack_secret)}")
    assert "12.6C" in sms.body and "10.0C" in sms.body
    assert "10 Nov 11:12 CST" in sms.body  # the device time, in the recipient's zone


def test_long_sms_is_shortened_in_the_detail_keeping_head_and_code() -> None:
    alert = _alert(
        shipment_id="S" * 40,
        device_id="D" * 60,
        reasons=("hold at Anchorage extended by 6 h", "viability budget below 20 %", "€€€€"),
    )
    sms = format_sms(alert, "+8657155500100", "dl-1", SHANGHAI, LINKS)
    code = ack_code(alert.id, LINKS.ack_secret)
    assert gsm7_length(sms.body) <= SMS_LIMIT
    assert sms.body.startswith(f"CRITICAL {'S' * 40}: Temperature high started")
    assert sms.body.endswith(f"Reply ACK {code}")
    assert ".." in sms.body


def test_fit_sms_cuts_the_head_when_even_head_and_tail_are_too_long() -> None:
    body = fit_sms("H" * 300, "detail", "Reply ACK ABCDEF")
    assert gsm7_length(body) <= SMS_LIMIT and body.endswith("Reply ACK ABCDEF")


def test_fit_sms_leaves_a_short_message_alone() -> None:
    assert fit_sms("head", "some detail", "tail") == "head. some detail. tail"


def test_closing_sms_has_no_reply_code() -> None:
    sms = format_sms(_alert(step="closed"), "+1", "dl-1", SHANGHAI, LINKS)
    assert "ACK" not in sms.body and "ended" in sms.body


def test_email_has_the_facts_the_shipment_link_and_an_ack_link() -> None:
    alert = _alert(reasons=("door <open>",))
    mail = format_email(alert, "qa@buyer.example", "Hangzhou Fresh", "dl-1", SHANGHAI, LINKS)
    page = "https://coldchain.example/shipments/SHP-2026-0001"
    assert "SHP-2026-0001" in mail.subject and "CRITICAL" in mail.subject
    for part in (mail.text, mail.html):
        assert page in part
        assert f"/alerts/{alert.id}/ack?token=" in part
        assert "12.6°C" in part and "11.3°C" in part
        assert "-1.0°C to 10.0°C" in part
        assert "2026-11-10 03:12:40 UTC" in part
    assert "door &lt;open&gt;" in mail.html and "<open>" not in mail.html
    assert "door <open>" in mail.text


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
    assert "lost 10 Nov 06:40 CST" in sms.body and gsm7_length(sms.body) <= SMS_LIMIT
    email = format_email(lost, "qa@buyer.example", "Buyer", "dl-2", SHANGHAI, LINKS)
    assert email.subject == "[coldchain] CRITICAL: Viability lost - SHP-2026-0001"
    assert "Lost at" in email.text and "10 Nov 06:40 CST" in email.text and "frozen" in email.text
