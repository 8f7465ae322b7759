"""The report's words in the reader's language: the codes it shows, numbers and its sentences. Pure.

In English the codes stay as the database and the API have them ("temp_high", "closed"),
so an auditor can match them up; other languages say them in words. Times stay in UTC and
ISO order ("2026-11-10 09:32 UTC"): an audit record compared across parties and zones.
"""

from __future__ import annotations

from datetime import datetime

from services.i18n.language import Language
from services.reports.model import ShipmentReport


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def number(value: float | None, lang: Language, digits: int = 2) -> str:
    return "-" if value is None else lang.decimal(value, digits)


def code_word(lang: Language, field: str, code: str) -> str:
    """The word for a stored code (``field`` names its column); an unknown code as it is."""
    return _codes(lang).get(field, {}).get(code, code)


def _codes(lang: Language) -> dict[str, dict[str, str]]:
    pgettext = lang.pgettext  # the name the catalog extraction looks for
    return {
        "kind": {
            # i18n: these codes stay codes in English; other languages say them in words
            "temp_high": pgettext("excursion kind", "temp_high"),
            "temp_low": pgettext("excursion kind", "temp_low"),
            "humidity_low": pgettext("excursion kind", "humidity_low"),
            "sensor_silent": pgettext("excursion kind", "sensor_silent"),
            "at_risk": pgettext("excursion kind", "at_risk"),
            "viability_lost": pgettext("excursion kind", "viability_lost"),
        },
        "severity": {"warning": pgettext("severity", "warning"), "critical": pgettext("severity", "critical")},
        "status": {
            "open": pgettext("excursion status", "open"),
            "closed": pgettext("excursion status", "closed"),
            "pending": pgettext("delivery status", "pending"),
            "sending": pgettext("delivery status", "sending"),
            "sent": pgettext("delivery status", "sent"),
            "failed": pgettext("delivery status", "failed"),
        },
        "step": {
            "opened": pgettext("alert step", "opened"),
            "escalated": pgettext("alert step", "escalated"),
            "closed": pgettext("alert step", "closed"),
        },
        "role": {
            "seller": pgettext("role", "seller"),
            "buyer": pgettext("role", "buyer"),
            "ops": pgettext("role", "ops"),
        },
        "channel": {"email": pgettext("channel", "email"), "sms": pgettext("channel", "sms")},
        "mode": {
            "air": pgettext("leg mode", "air"),
            "road": pgettext("leg mode", "road"),
            "sea": pgettext("leg mode", "sea"),
        },
        "state": {
            "planned": pgettext("leg state", "planned"),
            "active": pgettext("leg state", "active"),
            "done": pgettext("leg state", "done"),
        },
        "viability": {
            "ok": pgettext("viability state", "ok"),
            "compromised": pgettext("viability state", "compromised"),
            "lost": pgettext("viability state", "lost"),
        },
        "loss": {"freezing": pgettext("loss reason", "freezing"), "heat": pgettext("loss reason", "heat")},
        "product": {"live-lobster": pgettext("product", "live-lobster")},
    }


def arrival_text(report: ShipmentReport, lang: Language) -> str:
    """The actual arrival, and how early or late it was against deliver-by."""
    if report.actual_arrival is None:
        return when(None)
    margin = (report.deliver_by - report.actual_arrival).total_seconds() / 3600
    hours = lang.decimal(abs(margin))
    if margin >= 0:
        return lang.gettext("%(time)s (%(hours)s h early)", time=when(report.actual_arrival), hours=hours)
    return lang.gettext("%(time)s (%(hours)s h LATE)", time=when(report.actual_arrival), hours=hours)


def viability_text(report: ShipmentReport, lang: Language) -> str:
    """Lost is said as lost, with when and why: a budget in hours means nothing for dead stock."""
    v = report.viability
    if v is None:
        return "-"
    if v.state == "lost":
        why = code_word(lang, "loss", v.lost_reason) if v.lost_reason else lang.gettext("lethal limit")
        return lang.gettext("LOST (%(reason)s) at %(time)s", reason=why, time=when(v.lost_at))
    budget = lang.gettext("%(left)s h of budget left at arrival (%(used)s h used)",
                          left=lang.decimal(v.remaining_at_eta_h), used=lang.decimal(v.used_h))
    return lang.pgettext("viability", "%(state)s: %(budget)s", state=code_word(lang, "viability", v.state),
                         budget=budget)


def statistics_note(report: ShipmentReport, lang: Language) -> str:
    limits = report.limits
    return lang.gettext(
        "Shipment mean kinetic temperature %(mkt)s °C (dH/R = 10,000 K, interval-weighted). Out of range = "
        "outside %(low)s–%(high)s °C (nominal; critical %(critical_low)s–%(critical_high)s °C), readings joined "
        "by straight lines; gaps over 30 min count as no data. Degree-minutes: area beyond the nominal limits.",
        mkt=number(report.shipment_mkt_c(), lang), low=number(limits.nominal_low_c, lang, 1),
        high=number(limits.nominal_high_c, lang, 1), critical_low=number(limits.critical_low_c, lang, 1),
        critical_high=number(limits.critical_high_c, lang, 1),
    )
