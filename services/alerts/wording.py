"""An alert's words and figures in the recipient's language: titles, values, times. Pure.

Every text is an English msgid of the ``coldchain`` catalog (services/i18n), written whole
(one msgid per kind and step, not "kind" + "step"), since word order and agreement differ
between languages. Times carry their UTC offset and zone name ("09:30 UTC+08:00
(Asia/Shanghai)"): an abbreviation like "CST" is ambiguous (China, Cuba, US Central).
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from schemas.alert import Alert, AlertPlace
from services.i18n.language import N_, Language

# --- titles --------------------------------------------------------------------------

_TITLES: dict[tuple[str, str], str] = {
    ("temp_high", "opened"): N_("Temperature high started"),
    ("temp_high", "escalated"): N_("Temperature high escalated to critical"),
    ("temp_high", "closed"): N_("Temperature high ended"),
    ("temp_low", "opened"): N_("Temperature low started"),
    ("temp_low", "escalated"): N_("Temperature low escalated to critical"),
    ("temp_low", "closed"): N_("Temperature low ended"),
    ("humidity_low", "opened"): N_("Humidity low started"),
    ("humidity_low", "escalated"): N_("Humidity low escalated to critical"),
    ("humidity_low", "closed"): N_("Humidity low ended"),
    ("sensor_silent", "opened"): N_("Tracker silent started"),
    ("sensor_silent", "escalated"): N_("Tracker silent escalated to critical"),
    ("sensor_silent", "closed"): N_("Tracker silent ended"),
    ("at_risk", "opened"): N_("Delivery at risk started"),
    ("at_risk", "escalated"): N_("Delivery at risk escalated to critical"),
    ("at_risk", "closed"): N_("Delivery at risk ended"),
}
_FOUND_LATE_TITLES = {
    "temp_high": N_("Temperature high found in uploaded backlog"),
    "temp_low": N_("Temperature low found in uploaded backlog"),
    "humidity_low": N_("Humidity low found in uploaded backlog"),
    "sensor_silent": N_("Tracker silent found late"),
    "at_risk": N_("Delivery at risk found in uploaded backlog"),
}
# A verdict, not an episode: it neither starts nor ends.
VIABILITY_LOST = N_("Viability lost")
# The kind inside a sentence ("An excursion (temperature low) on shipment ...").
_KINDS_IN_SENTENCE = {
    "temp_high": N_("temperature high"),
    "temp_low": N_("temperature low"),
    "humidity_low": N_("humidity low"),
    "sensor_silent": N_("tracker silent"),
    "at_risk": N_("delivery at risk"),
    "viability_lost": N_("viability lost"),
}


def title(alert: Alert, lang: Language) -> str:
    if alert.kind == "viability_lost":
        return lang.gettext(VIABILITY_LOST)
    if alert.found_late:
        return lang.gettext(_FOUND_LATE_TITLES[alert.kind])
    return lang.gettext(_TITLES[(alert.kind, alert.step)])


def kind_in_sentence(alert: Alert, lang: Language) -> str:
    return lang.gettext(_KINDS_IN_SENTENCE[alert.kind])


def severity_word(alert: Alert, lang: Language) -> str:
    """"critical", as a value in a table."""
    if alert.severity == "critical":
        return lang.pgettext("severity", "critical")
    return lang.pgettext("severity", "warning")


def severity_flag(alert: Alert, lang: Language) -> str:
    """"CRITICAL", as the first word of an SMS or a subject."""
    if alert.severity == "critical":
        return lang.pgettext("severity, in capitals", "CRITICAL")
    return lang.pgettext("severity, in capitals", "WARNING")


def reason(text: str, lang: Language) -> str:
    """A reason the upstream mapping wrote in English (sources.py, policy.py mark them):
    in the catalog it is translated; one it does not know is shown as it is."""
    return lang.gettext(text)


# --- figures -------------------------------------------------------------------------


def temperature(value: float, lang: Language) -> str:
    # i18n: a temperature in degrees Celsius ("-2.5°C"); French puts a no-break space before °C
    return lang.pgettext("temperature", "%(value)s°C", value=lang.decimal(value))


def humidity(value: float, lang: Language) -> str:
    # i18n: a relative humidity ("82.0%RH"); %% is a literal percent sign
    return lang.pgettext("humidity", "%(value)s%%RH", value=lang.decimal(value))


def measured(alert: Alert, value: float, lang: Language) -> str:
    """A value in the unit of the alert's kind."""
    return humidity(value, lang) if alert.kind == "humidity_low" else temperature(value, lang)


def limits(alert: Alert, lang: Language) -> str | None:
    low, high = alert.figures.low_limit, alert.figures.high_limit
    if low is not None and high is not None:
        return lang.pgettext("limits", "%(low)s to %(high)s", low=measured(alert, low, lang),
                             high=measured(alert, high, lang))
    if high is not None:
        return lang.pgettext("limits", "max %(high)s", high=measured(alert, high, lang))
    if low is not None:
        return lang.pgettext("limits", "min %(low)s", low=measured(alert, low, lang))
    return None


def lows(alert: Alert) -> bool:
    """The worst value of a kind that goes low is its lowest, else its peak."""
    return alert.kind in ("temp_low", "humidity_low")


def worst_label(alert: Alert, lang: Language) -> str:
    return lang.gettext("Lowest") if lows(alert) else lang.gettext("Peak")


def worst(alert: Alert, value: float, lang: Language) -> str:
    """"Lowest -2.5°C", as an SMS says it."""
    shown = measured(alert, value, lang)
    if lows(alert):
        return lang.pgettext("the worst value", "Lowest %(value)s", value=shown)
    return lang.pgettext("the worst value", "Peak %(value)s", value=shown)


def duration(minutes: float, lang: Language) -> str:
    whole = round(minutes)
    if whole < 60:
        return lang.pgettext("duration", "%(minutes)d min", minutes=whole)
    return lang.pgettext("duration", "%(hours)d h %(minutes)02d min", hours=whole // 60, minutes=whole % 60)


def hours(value: float, lang: Language) -> str:
    return lang.pgettext("duration", "%(hours)s h", hours=lang.decimal(value))


# --- places --------------------------------------------------------------------------

_UNDER_WAY = {
    "air": (N_("flight %(start)s -> %(end)s (booked)"), N_("flight %(start)s->%(end)s")),
    "sea": (N_("voyage %(start)s -> %(end)s (booked)"), N_("voyage %(start)s->%(end)s")),
    "road": (N_("road %(start)s -> %(end)s (booked)"), N_("road %(start)s->%(end)s")),
}
_AT = N_("at %(place)s")


def place_words(place: AlertPlace, lang: Language) -> tuple[str, str]:
    """The place in full and in its SMS form; as recorded when it has no parts (older alerts)."""
    if place.start_name is None or place.start_short is None:
        return place.name, place.short
    if place.end_name is None or place.end_short is None or place.mode is None:
        return lang.gettext(_AT, place=place.start_name), lang.gettext(_AT, place=place.start_short)
    full, short = _UNDER_WAY[place.mode]
    return (lang.gettext(full, start=place.start_name, end=place.end_name),
            lang.gettext(short, start=place.start_short, end=place.end_short))


# --- times ---------------------------------------------------------------------------


def zone_label(local: datetime, lang: Language) -> str:
    """"UTC+08:00 (Asia/Shanghai)" for an aware local time; "UTC" in UTC itself."""
    offset = local.utcoffset() or timedelta(0)
    key = getattr(local.tzinfo, "key", None)
    if not offset and key in (None, "UTC", "Etc/UTC"):
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours_, mins = divmod(abs(minutes), 60)
    label = f"UTC{sign}{hours_:02d}:{mins:02d}"
    # i18n: a UTC offset and the IANA zone name, which stays as it is ("Asia/Shanghai")
    return lang.pgettext("zone", "%(offset)s (%(zone)s)", offset=label, zone=key) if key else label


def _day_time(local: datetime, lang: Language) -> str:
    return lang.pgettext("day and time", "%(day)s %(time)s", day=lang.day(local), time=lang.clock(local))


def local_time(at: datetime, zone: tzinfo, lang: Language) -> str:
    """"10 Nov 14:31 UTC+08:00 (Asia/Shanghai)"."""
    local = at.astimezone(zone)
    return f"{_day_time(local, lang)} {zone_label(local, lang)}"


def local_span(start: datetime, end: datetime, zone: tzinfo, lang: Language) -> str:
    """"10 Nov 02:31-02:51 UTC-04:00 (America/Halifax)", the zone said once when it can be."""
    a, b = start.astimezone(zone), end.astimezone(zone)
    if a.utcoffset() != b.utcoffset():  # a DST change in between: each end says its own
        return lang.pgettext("time span", "%(start)s - %(end)s", start=local_time(start, zone, lang),
                             end=local_time(end, zone, lang))
    if a.date() == b.date():
        span = lang.pgettext("time span within a day", "%(day)s %(start)s-%(end)s", day=lang.day(a),
                             start=lang.clock(a), end=lang.clock(b))
    else:
        span = lang.pgettext("time span", "%(start)s - %(end)s", start=_day_time(a, lang), end=_day_time(b, lang))
    return f"{span} {zone_label(b, lang)}"


def in_zones(at: datetime, zones: list[tzinfo], lang: Language) -> str:
    return " / ".join(local_time(at, z, lang) for z in zones)


def span_in_zones(start: datetime, end: datetime, zones: list[tzinfo], lang: Language) -> str:
    return " / ".join(local_span(start, end, z, lang) for z in zones)


def with_utc(at: datetime, zones: list[tzinfo], lang: Language) -> str:
    """The local times, and the UTC time auditors compare: "... (2026-11-10 01:50:00 UTC)"."""
    return lang.pgettext("local and UTC time", "%(local)s (%(utc)s UTC)", local=in_zones(at, zones, lang),
                         utc=f"{at:%Y-%m-%d %H:%M:%S}")  # alert times are UTC

