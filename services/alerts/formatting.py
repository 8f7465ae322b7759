"""Alerts into words: an SMS of a few segments at most, and a plain-text + HTML email. Pure.

Times are the device's, written in the recipient's zone and, when the route says where
the shipment was, in that place's zone too, each with its UTC offset and zone name
("14:31 UTC+08:00 (Asia/Shanghai)"): an abbreviation like "CST" is ambiguous (China,
Cuba, US Central). SMS bodies are GSM-7 when every character allows it, else UCS-2
(``sms_encoding``); nothing a party wrote is replaced.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.alert import Alert
from services.alerts.ids import ack_code, share_token
from services.alerts.messages import EmailMessage, SmsMessage
from services.alerts.sms_encoding import sms_size, sms_text

# A found-late excursion needs its start, end, zones and place: more than one segment.
# Three keep it one message on every phone while capping the cost of a long detail.
SMS_MAX_SEGMENTS = 3

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


# --- SMS fitting ---------------------------------------------------------------------


def sms_fits(text: str, max_segments: int = SMS_MAX_SEGMENTS) -> bool:
    return sms_size(sms_text(text)).segments <= max_segments


def fit_sms(head: str, detail: str, tail: str, max_segments: int = SMS_MAX_SEGMENTS) -> str:
    """``head. detail. tail`` in ``max_segments``: the detail gives way first, at a word
    boundary. The head says what happened and the tail holds the reply code, so both survive.
    """
    whole = _sentences(head, detail, tail)
    if sms_fits(whole, max_segments):
        return sms_text(whole)
    if detail:
        cut = _shorten(detail, lambda d: sms_fits(_sentences(head, d, tail), max_segments))
        if len(cut) >= 8:
            return sms_text(_sentences(head, cut, tail))
    # Even head + tail do not fit (a 64-character shipment id): cut the head instead.
    cut_head = _shorten(head, lambda h: sms_fits(_sentences(h, "", tail), max_segments))
    return sms_text(_sentences(cut_head, "", tail))


_SEP = ". "
_MARKER = ".."


def _sentences(*parts: str) -> str:
    return _SEP.join(p for p in parts if p)


def _shorten(text: str, fits: Callable[[str], bool]) -> str:
    """The longest prefix of ``text`` (with a marker) that ``fits``; "" if none does."""
    low, high = 0, len(text)  # fits() only gets harder as the prefix grows: bisect it
    while low < high:
        mid = (low + high + 1) // 2
        if fits(text[:mid] + _MARKER):
            low = mid
        else:
            high = mid - 1
    cut = text[:low]
    if " " in cut[len(cut) // 2 :]:  # prefer a word boundary when one is near the end
        cut = cut[: cut.rindex(" ")]
    cut = cut.rstrip(" ,;:/")
    return cut + _MARKER if cut else ""


# --- times ---------------------------------------------------------------------------


def zone_label(local: datetime) -> str:
    """"UTC+08:00 (Asia/Shanghai)" for an aware local time; "UTC" in UTC itself."""
    offset = local.utcoffset() or timedelta(0)
    key = getattr(local.tzinfo, "key", None)
    if not offset and key in (None, "UTC", "Etc/UTC"):
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    label = f"UTC{sign}{hours:02d}:{mins:02d}"
    return f"{label} ({key})" if key else label


def local_time(at: datetime, zone: tzinfo) -> str:
    """"10 Nov 14:31 UTC+08:00 (Asia/Shanghai)"."""
    local = at.astimezone(zone)
    return f"{local:%d %b %H:%M} {zone_label(local)}"


def local_span(start: datetime, end: datetime, zone: tzinfo) -> str:
    """"10 Nov 02:31-02:51 UTC-04:00 (America/Halifax)", the zone said once when it can be."""
    a, b = start.astimezone(zone), end.astimezone(zone)
    if a.utcoffset() != b.utcoffset():  # a DST change in between: each end says its own
        return f"{local_time(start, zone)} - {local_time(end, zone)}"
    if a.date() == b.date():
        return f"{a:%d %b %H:%M}-{b:%H:%M} {zone_label(b)}"
    return f"{a:%d %b %H:%M} - {b:%d %b %H:%M} {zone_label(b)}"


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


def _in_zones(at: datetime, zones: list[tzinfo]) -> str:
    return " / ".join(local_time(at, z) for z in zones)


def _span_in_zones(start: datetime, end: datetime, zones: list[tzinfo]) -> str:
    return " / ".join(local_span(start, end, z) for z in zones)


def _duration(minutes: float) -> str:
    whole = round(minutes)
    if whole < 60:
        return f"{whole} min"
    return f"{whole // 60} h {whole % 60:02d} min"


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


def _worst_label(alert: Alert) -> str:
    return "Lowest" if alert.kind in ("temp_low", "humidity_low") else "Peak"


def _reading(alert: Alert) -> str | None:
    """The value that matters most: the worst one if known, else the last reading."""
    f, unit = alert.figures, _unit(alert)
    if alert.kind == "humidity_low" and f.humidity_pct is not None:
        return f"{_worst_label(alert)} {_num(f.humidity_pct, unit)}"
    if f.peak_c is not None:
        return f"{_worst_label(alert)} {_num(f.peak_c, unit)}"
    if f.temp_c is not None:
        return _num(f.temp_c, unit)
    return None


def title(alert: Alert) -> str:
    what = _WHAT[alert.kind]
    if alert.kind == "viability_lost":
        return what  # a verdict, not an episode: it neither starts nor ends
    if alert.found_late:
        return f"{what} found late" if alert.kind == "sensor_silent" else f"{what} found in uploaded backlog"
    return f"{what} {_STEP[alert.step]}"


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


def _when_found_late(alert: Alert, zones: list[tzinfo]) -> list[str]:
    """Its start and end (or that it is still going), and how long, for the SMS detail."""
    f = alert.figures
    start = f.started_at or alert.event_time
    if f.ended_at is not None:
        minutes = f.duration_min if f.duration_min is not None else (f.ended_at - start).total_seconds() / 60
        return [_span_in_zones(start, f.ended_at, zones), _duration(minutes)]
    last = f.reading_time or alert.event_time
    so_far = _duration((last - start).total_seconds() / 60)
    return [f"since {_in_zones(start, zones)}", f"still out of range, {so_far} so far"]


def format_sms(alert: Alert, to: str, delivery_id: str, zone: tzinfo, links: LinkConfig) -> SmsMessage:
    head = f"{alert.severity.upper()} {alert.shipment_id}: {title(alert)}"
    limits = _limits(alert)
    reading = _reading(alert)
    f = alert.figures
    zones = _zones(alert, zone)
    value = f"{reading} ({limits})" if reading and limits else reading or limits
    bits: list[str | None]
    if alert.found_late:
        bits = [*_when_found_late(alert, zones), value, f.place.short if f.place else None, f.device_id]
    elif f.lost_at is not None:
        bits = [value, f.device_id, f"lost {_in_zones(f.lost_at, zones)}"]
    else:
        bits = [value, f.device_id, _in_zones(f.reading_time or alert.event_time, zones)]
        bits.append(f.place.short if f.place else None)
    if f.eta is not None:
        bits.append(f"ETA {local_time(f.eta, zone)}")
    bits.extend(f.reasons)
    detail = ", ".join(b for b in bits if b)
    tail = f"Reply ACK {ack_code(alert.id, links.ack_secret)}" if wants_ack(alert) else ""
    return SmsMessage(delivery_id=delivery_id, to=to, body=fit_sms(head, detail, tail))


def _with_utc(at: datetime, zones: list[tzinfo]) -> str:
    return f"{_in_zones(at, zones)} ({at:%Y-%m-%d %H:%M:%S} UTC)"


def _facts(alert: Alert, zone: tzinfo) -> list[tuple[str, str]]:
    f = alert.figures
    unit = _unit(alert)
    zones = _zones(alert, zone)
    when = f.reading_time or alert.event_time
    ended = _with_utc(f.ended_at, zones) if f.ended_at else None
    if alert.found_late and ended is None:
        ended = "not yet: still out of range at the last reading"
    duration = f.duration_min
    if duration is None and f.started_at and f.ended_at:
        duration = (f.ended_at - f.started_at).total_seconds() / 60
    found = None
    if alert.found_late:
        found = "in the readings the tracker uploaded later, not while it happened"
        if f.received_at is not None:
            found = f"in the readings the tracker uploaded at {local_time(f.received_at, zone)}, not while it happened"
    rows: list[tuple[str, str | None]] = [
        ("Shipment", alert.shipment_id),
        ("Severity", alert.severity),
        ("Found", found),
        ("Device", f.device_id),
        ("Started", _with_utc(f.started_at, zones) if f.started_at else None),
        ("Ended", ended),
        ("Duration", _duration(duration) if duration is not None else None),
        ("Where", f.place.name if f.place else None),
        # A found-late step's reading is only the one that confirmed it: start and end say more.
        ("Reading time (device)", None if alert.found_late else _with_utc(when, zones)),
        ("Temperature", _num(f.temp_c, "°C") if f.temp_c is not None else None),
        (_worst_label(alert), _num(f.peak_c, unit) if f.peak_c is not None else None),
        ("Humidity", _num(f.humidity_pct, "%RH") if f.humidity_pct is not None else None),
        ("Limits", _limits(alert)),
        ("Degree-minutes", f"{f.degree_minutes:.0f}" if f.degree_minutes is not None else None),
        ("Lost at", _with_utc(f.lost_at, _zones(alert, zone)) if f.lost_at else None),
        ("ETA", local_time(f.eta, zone) if f.eta else None),
        ("Deliver by", local_time(f.deliver_by, zone) if f.deliver_by else None),
        (
            "Viability left",
            f"{f.viability_left_h:.1f} h" if f.viability_left_h is not None else None,
        ),
        ("Why", "; ".join(f.reasons) if f.reasons else None),
    ]
    return [(k, v) for k, v in rows if v]


def _lead(alert: Alert) -> str:
    """The opening sentence: what happened, and for a found-late one, that it is old news."""
    if not alert.found_late:
        return f"{title(alert)} on shipment {alert.shipment_id}."
    what = _WHAT[alert.kind].lower()
    state = "It is over." if alert.figures.ended_at else "It was still going on at the last reading."
    return (
        f"An excursion ({what}) on shipment {alert.shipment_id} happened while the tracker could not "
        f"report: it was found in the readings the tracker uploaded later. {state}"
    )


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
    page = shipment_url(delivery_id, links)
    ack = ack_url(delivery_id, links) if wants_ack(alert) else None
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
    lines = [f"Hello {to_name},", "", _lead(alert), ""]
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
    lead = f"<p>{e(_lead(alert))}</p>" if alert.found_late else ""
    return (
        "<!DOCTYPE html><html><body>"
        f"<p>Hello {e(to_name)},</p>"
        f'<h2 style="color:{colour}">{e(title(alert))}: {e(alert.shipment_id)}</h2>'
        f"{lead}"
        f"<table>{rows}</table>"
        f'<p><a href="{e(page)}">Open the shipment page</a></p>'
        f"{ack_html}"
        f'<p style="color:#666">coldchain alerts &middot; alert {e(alert.id)}</p>'
        "</body></html>"
    )
