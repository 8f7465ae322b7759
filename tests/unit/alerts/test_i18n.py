"""The found-late freeze of issue 19 told to a Canadian-French seller and a Chinese buyer.

The same alert as tests/unit/alerts/test_formatting.py, its place worked out from the
booked flight (services/alerts/whereabouts.py) so it can be said in each language.
"""

from __future__ import annotations

import asyncio
import math
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from schemas.alert import Alert, AlertFigures
from services.alerts.channel_set import ChannelSet
from services.alerts.channels.smtp import build_mime
from services.alerts.dispatcher import AlertDispatcher, DispatchConfig
from services.alerts.formatting import SMS_MAX_SEGMENTS, LinkConfig, fit_sms, format_email, format_sms
from services.alerts.ids import ack_code, alert_id
from services.alerts.messages import EmailMessage, SmsMessage
from services.alerts.outbox import ClaimedDelivery
from services.alerts.policy import PolicyConfig
from services.alerts.sms_encoding import is_gsm7, sms_size
from services.alerts.sources import _LOSS_WORDS
from services.alerts.whereabouts import place_at
from services.api.sms_inbound import parse_reply
from tests.unit.alerts.factories import contract_shipment, every_alert

LINKS = LinkConfig(public_url="https://coldchain.example/", ack_secret=b"test-secret")
HALIFAX = ZoneInfo("America/Halifax")
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 10, 1, 30, tzinfo=UTC)
NOT_GSM7_FRENCH = set("êâîôûçÊÂÎÔÛ")


def _freeze(ended: bool = True, **figures: object) -> Alert:
    """Found in the landed backlog: -2.5 °C from 01:30 to 01:50 UTC, on the booked YHZ->PVG flight."""
    return Alert(
        id=alert_id("exc-1", "opened"), trigger_id="exc-1", shipment_id="SHP-2026-0001", kind="temp_low",
        step="opened", severity="critical", event_time=datetime(2026, 11, 10, 3, 12, 40, tzinfo=UTC),
        found_late=True,
        figures=AlertFigures(
            device_id="TRK-0001", reading_time=datetime(2026, 11, 10, 1, 56 if ended else 40, tzinfo=UTC),
            peak_c=-2.5, low_limit=-1.0, high_limit=10.0, degree_minutes=42.0, started_at=START,
            ended_at=START + timedelta(minutes=20) if ended else None, duration_min=20.0 if ended else None,
            received_at=datetime(2026, 11, 10, 6, 10, tzinfo=UTC), place=place_at(contract_shipment(), START),
        ).model_copy(update=figures),
    )


CODE = ack_code(_freeze().id, LINKS.ack_secret)


# --- the Canadian-French seller, in Halifax --------------------------------------------


def test_french_sms_is_french_with_its_accents_in_halifax_time_and_still_gsm7() -> None:
    sms = format_sms(_freeze(), "+19025550100", "dl-1", HALIFAX, LINKS, "fr-CA")
    assert sms.body == (
        "CRITIQUE SHP-2026-0001 : Température trop basse découverte dans les relevés transmis en différé. "
        "9 nov. de 21 h 30 à 21 h 50 UTC-04:00 (America/Halifax), 20 min, minimum -2,5 C (-1,0 C à 10,0 C), "
        f"vol YHZ->PVG, TRK-0001. Répondez ACK {CODE}"
    )
    # é, è, à are GSM-7, and no ê/â/î/ô/û/ç appears: a third of the cost of UCS-2. The degree
    # sign and the no-break space before it are what sms_text makes plain for that.
    assert not NOT_GSM7_FRENCH & set(sms.body)
    assert (sms.size.encoding, sms.size.units, sms.size.segments) == ("GSM-7", len(sms.body), 2)


def test_french_sms_of_a_freeze_still_going_says_since_when_in_french() -> None:
    sms = format_sms(_freeze(ended=False), "+19025550100", "dl-1", HALIFAX, LINKS, "fr-CA")
    assert "depuis le 9 nov. à 21 h 30 UTC-04:00 (America/Halifax), toujours hors limites depuis 10 min" in sms.body
    assert sms.size.encoding == "GSM-7"


def test_french_email_says_it_all_in_french_with_decimal_commas_and_halifax_times() -> None:
    mail = format_email(_freeze(), "ops@seller.example", "Shediac Lobster Co.", "dl-1", HALIFAX, LINKS, "fr-CA")
    assert mail.subject == (
        "[coldchain] CRITIQUE : Température trop basse découverte dans les relevés transmis en différé - SHP-2026-0001"
    )
    assert mail.language == "fr-CA"
    lines = mail.text.splitlines()
    assert lines[0] == "Bonjour Shediac Lobster Co.,"
    assert lines[2] == (
        "Une excursion «\u00a0température trop basse\u00a0» s’est produite sur l’expédition SHP-2026-0001 pendant "
        "que le traceur ne pouvait pas transmettre : elle a été découverte dans les relevés que le traceur a "
        "téléversés plus tard. Elle est terminée."
    )
    facts = {line[:16].rstrip(): line[16:] for line in lines[4:15]}
    assert facts == {
        "Expédition": "SHP-2026-0001",
        "Gravité": "critique",
        "Découverte": "dans les relevés que le traceur a téléversés le 10 nov. à 02 h 10 UTC-04:00 (America/Halifax), "
                      "et non au moment des faits",
        "Appareil": "TRK-0001",
        "Début": "9 nov. à 21 h 30 UTC-04:00 (America/Halifax) (2026-11-10 01:30:00 UTC)",
        "Fin": "9 nov. à 21 h 50 UTC-04:00 (America/Halifax) (2026-11-10 01:50:00 UTC)",
        "Durée": "20 min",
        "Lieu": "vol Halifax Stanfield (YHZ) -> Shanghai Pudong (PVG) (selon la réservation)",
        "Minimum": "-2,5\u00a0°C",
        "Limites": "-1,0\u00a0°C à 10,0\u00a0°C",
        "Degrés-minutes": "42",
    }
    assert "Accuser réception de cette alerte : https://coldchain.example/s/" in mail.text
    assert '<html lang="fr-CA">' in mail.html and ">Ouvrir la page de l’expédition</a>" in mail.html
    assert "Alertes coldchain &middot; alerte al-" in mail.html


def test_a_french_word_outside_gsm7_makes_the_sms_ucs2_and_is_kept_as_written() -> None:
    # At a stop named with a circumflex: the SMS becomes UCS-2 (never "Entrepot"), every
    # character as written, and fits in UCS-2's smaller segments with its reply code whole.
    stop = _freeze().figures.place
    assert stop is not None
    there = stop.model_copy(update={"start_name": "Entrepôt de Québec", "start_short": "Entrepôt de Québec",
                                    "end_name": None, "end_short": None, "mode": None})
    opened = _freeze(place=there).model_copy(update={"found_late": False})
    sms = format_sms(opened, "+19025550100", "dl-1", HALIFAX, LINKS, "fr-CA")
    assert sms.body == (
        "CRITIQUE SHP-2026-0001 : Température trop basse détectée. minimum -2,5\u00a0°C (-1,0\u00a0°C à 10,0\u00a0°C), "
        f"TRK-0001, 9 nov. à 21 h 56 UTC-04:00 (America/Halifax), à Entrepôt de Québec. Répondez ACK {CODE}"
    )
    assert (sms.size.encoding, sms.size.segments) == ("UCS-2", 3)


def test_a_french_sms_too_long_for_ucs2_keeps_what_fits_in_gsm7() -> None:
    # Found late, the same stop makes the text too long for three UCS-2 segments: the detail
    # gives way from its end, and the text that fits needs no UCS-2 any more.
    stop = _freeze().figures.place
    assert stop is not None
    there = stop.model_copy(update={"start_name": "Entrepôt de Québec", "start_short": "Entrepôt de Québec",
                                    "end_name": None, "end_short": None, "mode": None})
    sms = format_sms(_freeze(place=there), "+19025550100", "dl-1", HALIFAX, LINKS, "fr-CA")
    assert sms.size.segments <= SMS_MAX_SEGMENTS and sms.body.endswith(f".. Répondez ACK {CODE}")
    assert "20 min, minimum -2,5 C" in sms.body


# --- the Chinese buyer, in Hangzhou ------------------------------------------------------


def test_chinese_sms_is_ucs2_in_shanghai_time_with_the_segments_it_takes() -> None:
    sms = format_sms(_freeze(), "+8657155500100", "dl-1", SHANGHAI, LINKS, "zh-CN")
    assert sms.body == (
        "严重 SHP-2026-0001：在补传的读数中发现温度过低。"
        "11月10日 09:30-09:50 UTC+08:00（Asia/Shanghai） / 11月9日 21:30-21:50 UTC-04:00（America/Halifax），"
        f"20分钟，最低 -2.5°C（-1.0°C 至 10.0°C），航班 YHZ→PVG，TRK-0001。确认请回复 ACK {CODE}"
    )
    # UCS-2: one UTF-16 unit a character here; over 70 units, parts of 67.
    units = len(sms.body.encode("utf-16-le")) // 2
    assert (sms.size.encoding, sms.size.units, sms.size.segments) == ("UCS-2", units, math.ceil(units / 67))
    assert sms.size.segments == 3


def test_chinese_email_subject_and_body_are_chinese() -> None:
    mail = format_email(_freeze(), "qa@buyer.example", "杭州鲜品有限公司", "dl-1", SHANGHAI, LINKS, "zh-CN")
    assert mail.subject == "[coldchain] 严重：在补传的读数中发现温度过低 - SHP-2026-0001"
    lines = mail.text.splitlines()
    assert lines[0] == "杭州鲜品有限公司，您好："
    assert lines[2] == ("货件 SHP-2026-0001 在追踪器无法上报期间发生了一次超限（温度过低），"
                        "这是在追踪器事后补传的读数中发现的。该超限已结束。")
    # Labels are padded by display width: a Chinese character takes two columns.
    assert lines[4] == "货件      SHP-2026-0001"
    assert lines[8] == (
        "开始      11月10日 09:30 UTC+08:00（Asia/Shanghai） / 11月9日 21:30 UTC-04:00（America/Halifax）"
        "（2026-11-10 01:30:00 UTC）"
    )
    assert "持续时间  20分钟" in lines and "最低值    -2.5°C" in lines and "限值      -1.0°C 至 10.0°C" in lines
    assert "位置      航班 Halifax Stanfield (YHZ) → Shanghai Pudong (PVG)（按预订）" in lines
    assert "确认此警报：https://coldchain.example/s/" in mail.text and "-- coldchain 冷链警报" in lines
    assert '<html lang="zh-CN">' in mail.html and "在补传的读数中发现温度过低：SHP-2026-0001</h2>" in mail.html
    assert "CST" not in mail.text


def test_a_chinese_email_says_its_language_to_the_mail_client() -> None:
    mail = format_email(_freeze(), "qa@buyer.example", "杭州鲜品", "dl-1", SHANGHAI, LINKS, "zh-CN")
    mime = build_mime(mail, "coldchain@seller.example")
    assert mime["Content-Language"] == "zh-CN"
    assert mime["Subject"] == mail.subject  # the header encodes it; read back it is the same text


def test_a_lost_shipment_reads_as_lost_with_its_reason_in_each_language() -> None:
    lost = Alert(id=alert_id("SHP-2026-0001:viability_lost", "opened"), trigger_id="SHP-2026-0001:viability_lost",
                 shipment_id="SHP-2026-0001", kind="viability_lost", step="opened", severity="critical",
                 event_time=START, figures=AlertFigures(temp_c=1.2, lost_at=START - timedelta(hours=3),
                                                        reasons=(_LOSS_WORDS["freezing"],)))
    zh = format_sms(lost, "+8613800000000", "dl-1", SHANGHAI, LINKS, "zh-CN")
    assert zh.body.startswith("严重 SHP-2026-0001：存活能力丧失。"
                              "1.2°C，于 11月10日 06:30 UTC+08:00（Asia/Shanghai） 丧失")
    assert "冰冻致死：模型推算的体温在冰冻限值处停留过久" in zh.body
    fr = format_email(lost, "ops@seller.example", "Shediac", "dl-2", HALIFAX, LINKS, "fr-CA")
    assert fr.subject == "[coldchain] CRITIQUE : Viabilité perdue - SHP-2026-0001"
    facts = dict(re.findall(r"^(\S.*?)  +(.+)$", fr.text, flags=re.MULTILINE))
    assert facts["Viabilité perdue le"] == "9 nov. à 18 h 30 UTC-04:00 (America/Halifax) (2026-11-09 22:30:00 UTC)"
    assert facts["Motif"] == "gel : température corporelle modélisée trop longtemps à la limite de congélation"


# --- English, and everything else ----------------------------------------------------


def test_english_reads_exactly_as_before() -> None:
    sms = format_sms(_freeze(), "+8657155500100", "dl-1", SHANGHAI, LINKS, "en")
    assert sms.body == (
        "CRITICAL SHP-2026-0001: Temperature low found in uploaded backlog. 10 Nov 09:30-09:50 UTC+08:00 "
        "(Asia/Shanghai) / 09 Nov 21:30-21:50 UTC-04:00 (America/Halifax), 20 min, Lowest -2.5C (-1.0C to 10.0C), "
        f"flight YHZ->PVG, TRK-0001. Reply ACK {CODE}"
    )
    mail = format_email(_freeze(), "qa@buyer.example", "Hangzhou Fresh", "dl-1", SHANGHAI, LINKS)
    assert mail.subject == "[coldchain] CRITICAL: Temperature low found in uploaded backlog - SHP-2026-0001"
    assert "Where           flight Halifax Stanfield (YHZ) -> Shanghai Pudong (PVG) (booked)\n" in mail.text
    assert mail.language == "en"


@pytest.mark.parametrize("language", ["de", "fr", "zh_CN", ""])
def test_an_unsupported_language_is_written_in_english(language: str) -> None:
    assert format_sms(_freeze(), "+1", "dl-1", SHANGHAI, LINKS, language) == format_sms(
        _freeze(), "+1", "dl-1", SHANGHAI, LINKS, "en")
    mail = format_email(_freeze(), "a@b.example", "A", "dl-1", SHANGHAI, LINKS, language)
    assert mail == format_email(_freeze(), "a@b.example", "A", "dl-1", SHANGHAI, LINKS, "en")


def test_a_place_recorded_before_it_had_parts_is_said_as_recorded() -> None:
    place = _freeze().figures.place
    assert place is not None
    old = place.model_copy(update={"start_name": None, "start_short": None, "end_name": None, "end_short": None})
    assert "flight YHZ->PVG" in format_sms(_freeze(place=old), "+1", "dl-1", SHANGHAI, LINKS, "zh-CN").body


# --- the reply keyword, and fitting in each encoding -------------------------------------


@pytest.mark.parametrize("language", ["en", "fr-CA", "zh-CN"])
def test_every_language_asks_for_the_same_ack_reply_the_parser_reads(language: str) -> None:
    sms = format_sms(_freeze(), "+1", "dl-1", SHANGHAI, LINKS, language)
    assert sms.body.endswith(f"ACK {CODE}")
    assert parse_reply(f"ACK {CODE}") == CODE
    # What a Chinese phone's keyboard may send: full-width letters and an ideographic space.
    wide = "".join(chr(ord(c) + 0xFEE0) for c in CODE)
    assert parse_reply(f"ＡＣＫ\u3000{wide}") == CODE and parse_reply(f"ack {CODE.lower()}") == CODE


def test_a_long_chinese_detail_is_cut_to_three_ucs2_segments_with_a_chinese_marker() -> None:
    reasons = tuple(f"第{i}号冷库门长时间未关闭，温度持续上升" for i in range(12))
    sms = format_sms(_freeze(reasons=reasons), "+8657155500100", "dl-1", SHANGHAI, LINKS, "zh-CN")
    assert sms.size.encoding == "UCS-2" and sms.size.segments == SMS_MAX_SEGMENTS and sms.size.units <= 3 * 67
    assert sms.body.startswith("严重 SHP-2026-0001：在补传的读数中发现温度过低。")
    assert sms.body.endswith(f"…。确认请回复 ACK {CODE}")


def test_fit_sms_uses_the_separator_and_marker_it_is_given() -> None:
    body = fit_sms("严重", "，".join(["温度过低"] * 80), "确认请回复 ACK ABCDEF", separator="。", marker="…")
    size = sms_size(body)
    assert size.encoding == "UCS-2" and size.segments <= SMS_MAX_SEGMENTS
    assert body.startswith("严重。温度过低，") and body.endswith("温度过低…。确认请回复 ACK ABCDEF")
    assert is_gsm7(fit_sms("Température basse", "", "Répondez ACK ABCDEF"))


# --- the dispatcher writes each delivery in its recipient's language ---------------------


class _Outbox:
    def __init__(self, claimed: list[ClaimedDelivery]) -> None:
        self.claimed, self.sent = claimed, []

    async def claim_due(self, *_: object) -> list[ClaimedDelivery]:
        claimed, self.claimed = self.claimed, []
        return claimed

    async def mark_sent(self, delivery: ClaimedDelivery, *_: object) -> None:
        self.sent.append(delivery.id)


class _Inbox:
    def __init__(self) -> None:
        self.got: list[SmsMessage | EmailMessage] = []

    async def send(self, message: SmsMessage | EmailMessage) -> str:
        self.got.append(message)
        return "ok"

    async def already_accepted(self, message: object) -> bool:
        return False


def test_the_dispatcher_writes_each_delivery_in_its_recipients_language() -> None:
    def claimed(did: str, channel: str, zone: str, language: str) -> ClaimedDelivery:
        return ClaimedDelivery(id=did, alert=_freeze(), role="buyer", channel=channel,  # type: ignore[arg-type]
                               address="+8657155500100" if channel == "sms" else "qa@buyer.example",
                               recipient_name="Hangzhou Fresh", timezone=zone, attempts=1, claim_token="c",
                               reclaimed=False, language=language)

    outbox = _Outbox([claimed("dl-1", "sms", "Asia/Shanghai", "zh-CN"),
                      claimed("dl-2", "email", "America/Halifax", "fr-CA")])
    sms, email = _Inbox(), _Inbox()
    dispatcher = AlertDispatcher(outbox, ChannelSet.of(email=email, sms=sms), LINKS, PolicyConfig(), [],  # type: ignore[arg-type]
                                 DispatchConfig())
    report = asyncio.run(dispatcher.run_once())
    assert report.sent == 2 and sorted(outbox.sent) == ["dl-1", "dl-2"]
    assert sms.got[0].body.startswith("严重 SHP-2026-0001：在补传的读数中发现温度过低。11月10日 09:30")  # type: ignore[union-attr]
    assert email.got[0].subject.startswith("[coldchain] CRITIQUE : Température trop basse")  # type: ignore[union-attr]


def test_every_french_sms_of_every_kind_and_step_stays_gsm7() -> None:
    # None of the French SMS texts needs ê, â, î, ô, û or ç: they go at a third of UCS-2's cost.
    for alert in every_alert():
        sms = format_sms(alert, "+19025550100", "dl-1", HALIFAX, LINKS, "fr-CA")
        assert sms.size.encoding == "GSM-7", sms.body
