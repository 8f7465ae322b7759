"""Alerts into words: one GSM-7 SMS segment, and a plain-text + HTML email. Pure."""

from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass
from datetime import datetime, tzinfo

from schemas.alert import Alert
from services.alerts.ids import ack_code, ack_token
from services.alerts.messages import EmailMessage, SmsMessage

SMS_LIMIT = 160

# GSM 03.38 default alphabet (one septet each) and its extension table (two septets:
# escape + char). Anything else forces UCS-2 and 70-character segments, so it is replaced.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = "^{}\\[~]|€\f"
_GSM7_BASIC_SET = frozenset(GSM7_BASIC)
_GSM7_EXTENDED_SET = frozenset(GSM7_EXTENDED)
_REPLACEMENTS = {
    "°": "",  # "4.2°C" reads fine as "4.2C"
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2026": "...",
    "\u00a0": " ",
    "\t": " ",
    "\u2022": "-",
    "\u00d7": "x",
    "\u2265": ">=",
    "\u2264": "<=",
    "\u00b1": "+/-",
    "\u2192": "->",
}

_WHAT = {
    "temp_high": "Temperature high",
    "temp_low": "Temperature low",
    "humidity_low": "Humidity low",
    "sensor_silent": "Tracker silent",
    "at_risk": "Delivery at risk",
    "viability_lost": "Viability lost",
}
_STEP = {
    "opened": "started",
    "escalated": "escalated to critical",
    "closed": "ended",
}


@dataclass(frozen=True)
class LinkConfig:
    public_url: str  # where the dashboard is reachable, e.g. https://coldchain.example
    ack_secret: bytes


# --- GSM-7 ---------------------------------------------------------------------------


def gsm7_length(text: str) -> int:
    """Septets ``text`` takes in GSM-7 (extension characters count twice)."""
    return sum(2 if ch in _GSM7_EXTENDED_SET else 1 for ch in text)


def to_gsm7(text: str) -> str:
    """``text`` with every character outside GSM-7 replaced by a close equivalent or '?'."""
    return "".join(_gsm7_char(ch) for ch in text)


def _gsm7_char(ch: str) -> str:
    if ch in _GSM7_BASIC_SET or ch in _GSM7_EXTENDED_SET:
        return ch
    if ch in _REPLACEMENTS:
        return _REPLACEMENTS[ch]
    # "Québec" keeps é (in GSM-7) but "Côte" becomes "Cote": drop combining accents.
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if base and all(c in _GSM7_BASIC_SET for c in base):
        return base
    return "?"


def fit_sms(head: str, detail: str, tail: str, limit: int = SMS_LIMIT) -> str:
    """``head. detail. tail`` in one segment: the detail gives way first, at a word boundary.

    The head says what happened and the tail holds the reply code, so both survive.
    """
    head, detail, tail = to_gsm7(head), to_gsm7(detail), to_gsm7(tail)
    whole = _sentences(head, detail, tail)
    if gsm7_length(whole) <= limit:
        return whole
    room = limit - gsm7_length(_sentences(head, "", tail)) - len(_SEP)
    if detail and room >= 8:
        return _sentences(head, _shorten(detail, room), tail)
    # Even head + tail do not fit (a 64-character shipment id): cut the head instead.
    head_room = limit - (gsm7_length(tail) + len(_SEP) if tail else 0)
    return _sentences(_shorten(head, head_room), "", tail)


_SEP = ". "


def _sentences(*parts: str) -> str:
    return _SEP.join(p for p in parts if p)


def _shorten(text: str, room: int) -> str:
    marker = ".."
    if gsm7_length(text) <= room:
        return text
    cut = text
    while cut and gsm7_length(cut) + len(marker) > room:
        cut = cut[:-1]
    if " " in cut[len(cut) // 2 :]:  # prefer a word boundary when one is near the end
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + marker


# --- content -------------------------------------------------------------------------


def _num(value: float, unit: str) -> str:
    return f"{value:.1f}{unit}"


def _unit(alert: Alert) -> str:
    return "%RH" if alert.kind == "humidity_low" else "°C"


def _limits(alert: Alert) -> str | None:
    low, high, unit = alert.figures.low_limit, alert.figures.high_limit, _unit(alert)
    if low is not None and high is not None:
        return f"{_num(low, unit)} to {_num(high, unit)}"
    if high is not None:
        return f"max {_num(high, unit)}"
    if low is not None:
        return f"min {_num(low, unit)}"
    return None


def _reading(alert: Alert) -> str | None:
    """The value that matters most: the peak (worst) if known, else the last reading."""
    f, unit = alert.figures, _unit(alert)
    if alert.kind == "humidity_low" and f.humidity_pct is not None:
        return _num(f.humidity_pct, unit)
    if f.peak_c is not None:
        return f"Peak {_num(f.peak_c, unit)}"
    if f.temp_c is not None:
        return _num(f.temp_c, unit)
    return None


def local_time(at: datetime, zone: tzinfo) -> str:
    return at.astimezone(zone).strftime("%d %b %H:%M %Z")


def title(alert: Alert) -> str:
    if alert.kind == "viability_lost":
        return _WHAT[alert.kind]  # a verdict, not an episode: it neither starts nor ends
    return f"{_WHAT[alert.kind]} {_STEP[alert.step]}"


def shipment_url(alert: Alert, links: LinkConfig) -> str:
    return f"{links.public_url.rstrip('/')}/shipments/{alert.shipment_id}"


def ack_url(alert: Alert, links: LinkConfig) -> str:
    token = ack_token(alert.id, links.ack_secret)
    return f"{links.public_url.rstrip('/')}/alerts/{alert.id}/ack?token={token}"


def wants_ack(alert: Alert) -> bool:
    return alert.step != "closed"


def format_sms(alert: Alert, to: str, delivery_id: str, zone: tzinfo, links: LinkConfig) -> SmsMessage:
    head = f"{alert.severity.upper()} {alert.shipment_id}: {title(alert)}"
    limits = _limits(alert)
    reading = _reading(alert)
    f = alert.figures
    bits = [f"{reading} ({limits})" if reading and limits else reading or limits]
    bits.append(f.device_id)
    if f.lost_at is not None:
        bits.append(f"lost {local_time(f.lost_at, zone)}")
    else:
        bits.append(local_time(f.reading_time or alert.event_time, zone))
    if f.eta is not None:
        bits.append(f"ETA {local_time(f.eta, zone)}")
    bits.extend(f.reasons)
    detail = ", ".join(b for b in bits if b)
    tail = f"Reply ACK {ack_code(alert.id, links.ack_secret)}" if wants_ack(alert) else ""
    return SmsMessage(delivery_id=delivery_id, to=to, body=fit_sms(head, detail, tail))


def _facts(alert: Alert, zone: tzinfo) -> list[tuple[str, str]]:
    f = alert.figures
    unit = _unit(alert)
    when = f.reading_time or alert.event_time
    rows: list[tuple[str, str | None]] = [
        ("Shipment", alert.shipment_id),
        ("Severity", alert.severity),
        ("Device", f.device_id),
        ("Reading time (device)", f"{local_time(when, zone)} ({when:%Y-%m-%d %H:%M:%S} UTC)"),
        ("Temperature", _num(f.temp_c, "°C") if f.temp_c is not None else None),
        ("Peak", _num(f.peak_c, unit) if f.peak_c is not None else None),
        ("Humidity", _num(f.humidity_pct, "%RH") if f.humidity_pct is not None else None),
        ("Limits", _limits(alert)),
        ("Degree-minutes", f"{f.degree_minutes:.0f}" if f.degree_minutes is not None else None),
        ("Started", local_time(f.started_at, zone) if f.started_at else None),
        ("Ended", local_time(f.ended_at, zone) if f.ended_at else None),
        ("Lost at", local_time(f.lost_at, zone) if f.lost_at else None),
        ("ETA", local_time(f.eta, zone) if f.eta else None),
        ("Deliver by", local_time(f.deliver_by, zone) if f.deliver_by else None),
        (
            "Viability left",
            f"{f.viability_left_h:.1f} h" if f.viability_left_h is not None else None,
        ),
        ("Why", "; ".join(f.reasons) if f.reasons else None),
    ]
    return [(k, v) for k, v in rows if v]


def format_email(
    alert: Alert,
    to: str,
    to_name: str,
    delivery_id: str,
    zone: tzinfo,
    links: LinkConfig,
) -> EmailMessage:
    subject = f"[coldchain] {alert.severity.upper()}: {title(alert)} - {alert.shipment_id}"
    facts = _facts(alert, zone)
    page = shipment_url(alert, links)
    ack = ack_url(alert, links) if wants_ack(alert) else None
    return EmailMessage(
        delivery_id=delivery_id,
        to=to,
        to_name=to_name,
        subject=subject,
        text=_email_text(alert, to_name, facts, page, ack),
        html=_email_html(alert, to_name, facts, page, ack),
    )


def _email_text(alert: Alert, to_name: str, facts: list[tuple[str, str]], page: str, ack: str | None) -> str:
    width = max(len(k) for k, _ in facts)
    lines = [f"Hello {to_name},", "", f"{title(alert)} on shipment {alert.shipment_id}.", ""]
    lines += [f"{k.ljust(width)}  {v}" for k, v in facts]
    lines += ["", f"Shipment page: {page}"]
    if ack:
        lines.append(f"Acknowledge this alert: {ack}")
    lines += ["", "-- coldchain alerts", f"Alert {alert.id}"]
    return "\n".join(lines) + "\n"


def _email_html(alert: Alert, to_name: str, facts: list[tuple[str, str]], page: str, ack: str | None) -> str:
    e = html.escape
    rows = "".join(f'<tr><th align="left" style="padding-right:1em">{e(k)}</th><td>{e(v)}</td></tr>' for k, v in facts)
    colour = "#b00020" if alert.severity == "critical" else "#b26a00"
    ack_html = f'<p><a href="{e(ack)}">Acknowledge this alert</a></p>' if ack else ""
    return (
        "<!DOCTYPE html><html><body>"
        f"<p>Hello {e(to_name)},</p>"
        f'<h2 style="color:{colour}">{e(title(alert))}: {e(alert.shipment_id)}</h2>'
        f"<table>{rows}</table>"
        f'<p><a href="{e(page)}">Open the shipment page</a></p>'
        f"{ack_html}"
        f'<p style="color:#666">coldchain alerts &middot; alert {e(alert.id)}</p>'
        "</body></html>"
    )
