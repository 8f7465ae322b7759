"""Alerts into words: an SMS of a few segments at most, and a plain-text + HTML email. Pure.

Written in the recipient's language (``wording`` and the catalogs of services/i18n; English
for a language that is not supported). Times are the device's, in the recipient's zone
and, when the route says where the shipment was, in that place's zone too, each with its
UTC offset and zone name ("14:31 UTC+08:00 (Asia/Shanghai)"). SMS bodies are GSM-7 when
every character allows it, else UCS-2 (``sms_encoding``): French accents outside GSM-7
(ê, â, î, ô, û, ç) and Chinese go as UCS-2, never replaced; nothing a party wrote is either.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.alert import Alert
from schemas.shipment import DEFAULT_LANGUAGE
from services.alerts import wording
from services.alerts.ids import ack_code, share_token
from services.alerts.messages import EmailMessage, SmsMessage
from services.alerts.sms_encoding import sms_size, sms_text
from services.i18n.language import Language, language_for

# A found-late excursion needs its start, end, zones and place: more than one segment.
# Three keep it one message on every phone while capping the cost of a long detail.
SMS_MAX_SEGMENTS = 3


@dataclass(frozen=True)
class LinkConfig:
    public_url: str  # where the dashboard is reachable, e.g. https://coldchain.example
    ack_secret: bytes


# --- SMS fitting ---------------------------------------------------------------------


def sms_fits(text: str, max_segments: int = SMS_MAX_SEGMENTS) -> bool:
    """Whether ``text``, as sent, takes at most ``max_segments`` in the encoding it needs
    (153 septets a part in GSM-7, 67 UTF-16 units in UCS-2)."""
    return sms_size(sms_text(text)).segments <= max_segments


def fit_sms(
    head: str,
    detail: str,
    tail: str,
    max_segments: int = SMS_MAX_SEGMENTS,
    separator: str = ". ",
    marker: str = "..",
) -> str:
    """``head. detail. tail`` in ``max_segments``: the detail gives way first, at a word
    boundary, ending with ``marker``. The head says what happened and the tail holds the
    reply code, so both survive. ``separator`` and ``marker`` are the language's ("。", "…").
    """
    join = _joiner(separator)
    whole = join(head, detail, tail)
    if sms_fits(whole, max_segments):
        return sms_text(whole)
    if detail:
        cut = _shorten(detail, marker, lambda d: sms_fits(join(head, d, tail), max_segments))
        if len(cut) >= 8:
            return sms_text(join(head, cut, tail))
    # Even head + tail do not fit (a 64-character shipment id): cut the head instead.
    cut_head = _shorten(head, marker, lambda h: sms_fits(join(h, "", tail), max_segments))
    return sms_text(join(cut_head, "", tail))


def _joiner(separator: str) -> Callable[..., str]:
    def join(*parts: str) -> str:
        return separator.join(p for p in parts if p)

    return join


# Where a text may be cut: between words, or after a comma or enumeration comma in Chinese
# (which has no spaces between words).
_BOUNDARIES = (" ", "\u3001", "\uff0c", "\uff1b")
_TRAILING = " ,;:/\u3001\uff0c\uff1b\uff1a"


def _shorten(text: str, marker: str, fits: Callable[[str], bool]) -> str:
    """The longest prefix of ``text`` (with ``marker``) that ``fits``; "" if none does."""
    low, high = 0, len(text)  # fits() only gets harder as the prefix grows: bisect it
    while low < high:
        mid = (low + high + 1) // 2
        if fits(text[:mid] + marker):
            low = mid
        else:
            high = mid - 1
    cut = text[:low]
    boundary = max(cut.rfind(b) for b in _BOUNDARIES)
    if boundary >= len(cut) // 2:  # prefer a word boundary when one is near the end
        cut = cut[:boundary]
    cut = cut.rstrip(_TRAILING)
    return cut + marker if cut else ""


# --- times (English by default, for callers that have no recipient) ------------------


def local_time(at: datetime, zone: tzinfo, language: str = DEFAULT_LANGUAGE) -> str:
    """"10 Nov 14:31 UTC+08:00 (Asia/Shanghai)"."""
    return wording.local_time(at, zone, language_for(language))


def local_span(start: datetime, end: datetime, zone: tzinfo, language: str = DEFAULT_LANGUAGE) -> str:
    """"10 Nov 02:31-02:51 UTC-04:00 (America/Halifax)", the zone said once when it can be."""
    return wording.local_span(start, end, zone, language_for(language))


def place_zone(alert: Alert) -> tzinfo | None:
    place = alert.figures.place
    if place is None or place.timezone is None:
        return None
    try:
        return ZoneInfo(place.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _zones(alert: Alert, zone: tzinfo) -> list[tzinfo]:
    """The recipient's zone, then the place's when it is another one."""
    there = place_zone(alert)
    if there is None or getattr(there, "key", None) == getattr(zone, "key", None):
        return [zone]
    return [zone, there]


# --- content -------------------------------------------------------------------------


def title(alert: Alert, language: str = DEFAULT_LANGUAGE) -> str:
    return wording.title(alert, language_for(language))


def shipment_url(delivery_id: str, links: LinkConfig) -> str:
    """The shipment's page for this recipient alone (services/api/share_routes.py): it opens
    without a login, and opening it changes nothing."""
    return f"{links.public_url.rstrip('/')}/s/{share_token(delivery_id, links.ack_secret)}"


def ack_url(delivery_id: str, links: LinkConfig) -> str:
    """The acknowledgement page: it shows what would be acknowledged; only its button (a POST)
    acknowledges, so a mail scanner opening every link acknowledges nothing."""
    return shipment_url(delivery_id, links) + "/ack"


def wants_ack(alert: Alert) -> bool:
    # A found-late excursion may be over, but nobody has heard of it yet: it is news to
    # acknowledge, not a follow-up.
    return alert.step != "closed" or alert.found_late


def _reading(alert: Alert, lang: Language) -> str | None:
    """The value that matters most: the worst one if known, else the last reading."""
    f = alert.figures
    if alert.kind == "humidity_low" and f.humidity_pct is not None:
        return wording.worst(alert, f.humidity_pct, lang)
    if f.peak_c is not None:
        return wording.worst(alert, f.peak_c, lang)
    if f.temp_c is not None:
        return wording.measured(alert, f.temp_c, lang)
    return None


def _place(alert: Alert, lang: Language, short: bool) -> str | None:
    place = alert.figures.place
    if place is None:
        return None
    full, brief = wording.place_words(place, lang)
    return brief if short else full


def _when_found_late(alert: Alert, zones: list[tzinfo], lang: Language) -> list[str]:
    """Its start and end (or that it is still going), and how long, for the SMS detail."""
    f = alert.figures
    start = f.started_at or alert.event_time
    if f.ended_at is not None:
        minutes = f.duration_min if f.duration_min is not None else (f.ended_at - start).total_seconds() / 60
        return [wording.span_in_zones(start, f.ended_at, zones, lang), wording.duration(minutes, lang)]
    last = f.reading_time or alert.event_time
    so_far = wording.duration((last - start).total_seconds() / 60, lang)
    return [
        lang.pgettext("SMS", "since %(time)s", time=wording.in_zones(start, zones, lang)),
        lang.pgettext("SMS", "still out of range, %(duration)s so far", duration=so_far),
    ]


def _sms_facts(alert: Alert, zone: tzinfo, lang: Language) -> list[str | None]:
    f = alert.figures
    zones = _zones(alert, zone)
    limits, reading = wording.limits(alert, lang), _reading(alert, lang)
    value = lang.pgettext("SMS", "%(reading)s (%(limits)s)", reading=reading, limits=limits) \
        if reading and limits else reading or limits
    facts: list[str | None]
    if alert.found_late:
        facts = [*_when_found_late(alert, zones, lang), value, _place(alert, lang, short=True), f.device_id]
    elif f.lost_at is not None:
        lost = lang.pgettext("SMS", "lost %(time)s", time=wording.in_zones(f.lost_at, zones, lang))
        facts = [value, f.device_id, lost]
    else:
        at = wording.in_zones(f.reading_time or alert.event_time, zones, lang)
        facts = [value, f.device_id, at, _place(alert, lang, short=True)]
    if f.eta is not None:
        facts.append(lang.pgettext("SMS", "ETA %(time)s", time=wording.local_time(f.eta, zone, lang)))
    facts.extend(wording.reason(r, lang) for r in f.reasons)
    return facts


def format_sms(
    alert: Alert, to: str, delivery_id: str, zone: tzinfo, links: LinkConfig, language: str = DEFAULT_LANGUAGE
) -> SmsMessage:
    lang = language_for(language)
    head = lang.pgettext("SMS", "%(severity)s %(shipment)s: %(title)s", severity=wording.severity_flag(alert, lang),
                         shipment=alert.shipment_id, title=wording.title(alert, lang))
    # i18n: between the facts of an SMS ("20 min, Lowest -2.5°C")
    detail = lang.pgettext("SMS", ", ").join(b for b in _sms_facts(alert, zone, lang) if b)
    tail = ""
    if wants_ack(alert):
        # i18n: keep "ACK" as it is, in capitals: the reply is parsed by that keyword in every language
        tail = lang.pgettext("SMS", "Reply ACK %(code)s", code=ack_code(alert.id, links.ack_secret))
    # i18n: between the sentences of an SMS (what happened. the facts. the reply code)
    separator = lang.pgettext("SMS", ". ")
    # i18n: ends a text shortened to fit an SMS
    marker = lang.pgettext("SMS", "..")
    body = fit_sms(head, detail, tail, separator=separator, marker=marker)
    return SmsMessage(delivery_id=delivery_id, to=to, body=body)


def _facts(alert: Alert, zone: tzinfo, lang: Language) -> list[tuple[str, str]]:
    f = alert.figures
    zones = _zones(alert, zone)
    _, pgettext = lang.gettext, lang.pgettext  # the names the catalog extraction looks for
    when = f.reading_time or alert.event_time
    ended = wording.with_utc(f.ended_at, zones, lang) if f.ended_at else None
    if alert.found_late and ended is None:
        ended = _("not yet: still out of range at the last reading")
    duration = f.duration_min
    if duration is None and f.started_at and f.ended_at:
        duration = (f.ended_at - f.started_at).total_seconds() / 60
    found = None
    if alert.found_late:
        found = _("in the readings the tracker uploaded later, not while it happened")
        if f.received_at is not None:
            found = _("in the readings the tracker uploaded at %(time)s, not while it happened",
                      time=wording.local_time(f.received_at, zone, lang))
    # i18n: between the reasons of an alert
    reasons = pgettext("reasons", "; ").join(wording.reason(r, lang) for r in f.reasons)
    rows: list[tuple[str, str | None]] = [
        (_("Shipment"), alert.shipment_id),
        (_("Severity"), wording.severity_word(alert, lang)),
        (_("Found"), found),
        (_("Device"), f.device_id),
        (_("Started"), wording.with_utc(f.started_at, zones, lang) if f.started_at else None),
        (_("Ended"), ended),
        (_("Duration"), wording.duration(duration, lang) if duration is not None else None),
        (_("Where"), _place(alert, lang, short=False)),
        # A found-late step's reading is only the one that confirmed it: start and end say more.
        (_("Reading time (device)"), None if alert.found_late else wording.with_utc(when, zones, lang)),
        (_("Temperature"), wording.temperature(f.temp_c, lang) if f.temp_c is not None else None),
        (wording.worst_label(alert, lang), wording.measured(alert, f.peak_c, lang) if f.peak_c is not None else None),
        (_("Humidity"), wording.humidity(f.humidity_pct, lang) if f.humidity_pct is not None else None),
        (_("Limits"), wording.limits(alert, lang)),
        (_("Degree-minutes"), lang.decimal(f.degree_minutes, 0) if f.degree_minutes is not None else None),
        (_("Lost at"), wording.with_utc(f.lost_at, zones, lang) if f.lost_at else None),
        (_("ETA"), wording.local_time(f.eta, zone, lang) if f.eta else None),
        (_("Deliver by"), wording.local_time(f.deliver_by, zone, lang) if f.deliver_by else None),
        (_("Viability left"), wording.hours(f.viability_left_h, lang) if f.viability_left_h is not None else None),
        (_("Why"), reasons or None),
    ]
    return [(k, v) for k, v in rows if v]


def _lead(alert: Alert, lang: Language) -> str:
    """The opening sentence: what happened, and for a found-late one, that it is old news."""
    if not alert.found_late:
        return lang.gettext("%(title)s on shipment %(shipment)s.", title=wording.title(alert, lang),
                            shipment=alert.shipment_id)
    news = lang.gettext(
        "An excursion (%(what)s) on shipment %(shipment)s happened while the tracker could not report: "
        "it was found in the readings the tracker uploaded later.",
        what=wording.kind_in_sentence(alert, lang), shipment=alert.shipment_id,
    )
    if alert.figures.ended_at:
        state = lang.gettext("It is over.")
    else:
        state = lang.gettext("It was still going on at the last reading.")
    # i18n: between two sentences of the email (Chinese needs no space)
    return lang.pgettext("email", "%(first)s %(second)s", first=news, second=state)


def format_email(
    alert: Alert,
    to: str,
    to_name: str,
    delivery_id: str,
    zone: tzinfo,
    links: LinkConfig,
    language: str = DEFAULT_LANGUAGE,
) -> EmailMessage:
    lang = language_for(language)
    subject = lang.gettext("[coldchain] %(severity)s: %(title)s - %(shipment)s",
                           severity=wording.severity_flag(alert, lang), title=wording.title(alert, lang),
                           shipment=alert.shipment_id)
    facts = _facts(alert, zone, lang)
    page = shipment_url(delivery_id, links)
    ack = ack_url(delivery_id, links) if wants_ack(alert) else None
    return EmailMessage(
        delivery_id=delivery_id,
        to=to,
        to_name=to_name,
        subject=subject,
        text=_email_text(alert, to_name, facts, page, ack, lang),
        html=_email_html(alert, to_name, facts, page, ack, lang),
        language=lang.tag,
    )


def display_width(text: str) -> int:
    """Columns ``text`` takes in a monospaced font: two for a wide (CJK) character."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _email_text(alert: Alert, to_name: str, facts: list[tuple[str, str]], page: str, ack: str | None,
                lang: Language) -> str:
    width = max(display_width(k) for k, _ in facts)
    lines = [lang.gettext("Hello %(name)s,", name=to_name), "", _lead(alert, lang), ""]
    lines += [f"{k}{' ' * (width - display_width(k))}  {v}" for k, v in facts]
    lines += ["", lang.gettext("Shipment page: %(url)s", url=page)]
    if ack:
        lines.append(lang.gettext("Acknowledge this alert: %(url)s", url=ack))
    signature = lang.gettext("coldchain alerts")
    lines += ["", f"-- {signature}", lang.gettext("Alert %(id)s", id=alert.id)]
    return "\n".join(lines) + "\n"


def _email_html(alert: Alert, to_name: str, facts: list[tuple[str, str]], page: str, ack: str | None,
                lang: Language) -> str:
    # Every text is looked up outside the f-strings: the catalog extraction cannot see into them.
    e = html.escape
    rows = "".join(f'<tr><th align="left" style="padding-right:1em">{e(k)}</th><td>{e(v)}</td></tr>' for k, v in facts)
    colour = "#b00020" if alert.severity == "critical" else "#b26a00"
    ack_caption = lang.gettext("Acknowledge this alert")
    ack_html = f'<p><a href="{e(ack)}">{e(ack_caption)}</a></p>' if ack else ""
    lead = f"<p>{e(_lead(alert, lang))}</p>" if alert.found_late else ""
    greeting = lang.gettext("Hello %(name)s,", name=to_name)
    heading = lang.pgettext("email heading", "%(title)s: %(shipment)s", title=wording.title(alert, lang),
                            shipment=alert.shipment_id)
    page_caption = lang.gettext("Open the shipment page")
    signature, alert_label = lang.gettext("coldchain alerts"), lang.pgettext("footer", "alert %(id)s", id=alert.id)
    return (
        f'<!DOCTYPE html><html lang="{e(lang.tag)}"><body>'
        f"<p>{e(greeting)}</p>"
        f'<h2 style="color:{colour}">{e(heading)}</h2>'
        f"{lead}"
        f"<table>{rows}</table>"
        f'<p><a href="{e(page)}">{e(page_caption)}</a></p>'
        f"{ack_html}"
        f'<p style="color:#666">{e(signature)} &middot; {e(alert_label)}</p>'
        "</body></html>"
    )
