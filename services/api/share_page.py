"""The page a share link opens: one shipment, for one recipient, read-only (pure HTML).

Mobile first: what a buyer on a phone at night needs comes first (the state and viability),
then the temperature chart with its limits and excursions, the route with the leg under way,
the ETA, the excursions and the alerts, and last the acknowledge button when the link came
with an alert. No script, no external resource: it opens in any mail app's browser.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from services.i18n.language import N_, Language, language_for

CSS = """
*{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,
'Noto Sans','Noto Sans CJK SC',sans-serif;color:#1b1f24;background:#f4f6f8}
main{max-width:760px;margin:0 auto;padding:12px}
section{background:#fff;border-radius:10px;padding:12px 14px;margin:0 0 12px;box-shadow:0 1px 2px #0002}
h1{font-size:1.15rem;margin:.2rem 0 .6rem}h2{font-size:1rem;margin:0 0 .5rem}
.state{font-size:1.2rem;font-weight:700;padding:10px 12px;border-radius:8px}
.ok{background:#e3f6e8;color:#14532d}.warn{background:#fff4d6;color:#7a4b00}.bad{background:#fde2e1;color:#8a1111}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;margin:0}dt{color:#59636e}dd{margin:0}
table{width:100%;border-collapse:collapse;font-size:.92rem}td,th{text-align:left;padding:6px 4px;
border-top:1px solid #e5e8eb;vertical-align:top}
ol.route{margin:0;padding-left:1.2rem}ol.route li.now{font-weight:700}
svg{width:100%;height:auto;display:block}
button{width:100%;font-size:1.05rem;padding:14px;border:0;border-radius:8px;background:#0b57d0;color:#fff}
.muted{color:#59636e;font-size:.88rem}
"""


@dataclass(frozen=True)
class Point:
    time: datetime
    low: float
    high: float


@dataclass(frozen=True)
class ShareView:
    shipment: dict[str, Any]  # the registration as the API returns it
    summary: dict[str, Any]  # the fleet summary (services/api/fleet_routes.summary_of)
    limits: dict[str, Any] | None
    points: list[Point]
    excursions: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    zone: tzinfo
    party: str
    ack_alert: dict[str, Any] | None = None  # the alert this link may acknowledge
    acknowledged: bool = False
    notes: list[str] = field(default_factory=list)
    lang: Language = field(default_factory=lambda: language_for("en"))  # the party's language


# Words the page shows for values the API keeps in English.
_KINDS = {"temp_high": N_("temperature high"), "temp_low": N_("temperature low"),
          "humidity_low": N_("humidity low"), "sensor_silent": N_("sensor silent"),
          "at_risk": N_("at risk"), "viability_lost": N_("viability lost")}
_SEVERITIES = {"warning": N_("warning"), "critical": N_("critical")}
_STEPS = {"opened": N_("opened"), "escalated": N_("escalated"), "closed": N_("closed")}
_STATES = {"ok": N_("ok"), "excursion": N_("excursion"), "at_risk": N_("at risk"), "silent": N_("silent"),
           "lost": N_("viability lost")}
_PARTIES = {"seller": N_("seller"), "buyer": N_("buyer"), "ops": N_("operations")}


def _word(words: dict[str, str], key: str, lang: Language) -> str:
    return lang.gettext(words[key]) if key in words else key.replace("_", " ")


def _e(value: object) -> str:
    return html.escape(str(value))


def _when(at: datetime | str | None, zone: tzinfo, lang: Language) -> str:
    if at is None:
        return "—"
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    return f"{lang.day(local)} {lang.clock(local)} UTC{offset[:3]}:{offset[3:]}"


def state_line(summary: dict[str, Any], lang: Language) -> str:
    """What the shipment went through, in the reader's words (fleet_status.state_text's facts)."""
    parts = [_word(_STATES, summary["state"], lang)]
    if summary.get("critical_excursions"):
        parts.append(lang.gettext("critical excursions: %(count)s", count=summary["critical_excursions"]))
    if summary["viability"] == "compromised":
        parts.append(lang.gettext("viability compromised"))
    elif summary["viability"] == "lost" and summary["state"] != "lost":
        parts.append(lang.gettext("viability lost"))
    return " · ".join(parts)


def _state_class(summary: dict[str, Any]) -> str:
    if summary["viability"] == "lost" or summary["state"] in ("lost", "excursion"):
        return "bad"
    if summary["viability"] == "compromised" or summary["state"] in ("at_risk", "silent"):
        return "warn"
    return "ok"


def render_share_page(view: ShareView) -> str:
    s, summary, lang = view.shipment, view.summary, view.lang
    title = lang.gettext("Shipment %(id)s", id=s["id"])
    parts = [
        f"<section><h1>{_e(title)}</h1>"
        f"<div class='state {_state_class(summary)}' id='state'>{_e(state_line(summary, lang))}</div>"
        f"{_viability(summary, lang)}</section>",
        _chart_section(view),
        _route_section(view),
        _excursions_section(view),
        _alerts_section(view),
    ]
    if view.ack_alert is not None:
        parts.append(ack_form(view.ack_alert, view.acknowledged, view.zone, action="ack", lang=lang))
    body = "".join(parts)
    footer = lang.gettext("For the %(party)s · %(seller)s → %(buyer)s · times in %(zone)s · a read-only page "
                          "from coldchain", party=_word(_PARTIES, view.party, lang), seller=s["seller"]["name"],
                          buyer=s["buyer"]["name"], zone=getattr(view.zone, "key", "UTC"))
    return page(lang.gettext("Shipment %(id)s", id=s["id"]), body + f"<p class='muted'>{_e(footer)}</p>", lang)


def page(title: str, body: str, lang: Language | None = None) -> str:
    tag = lang.tag if lang is not None else "en"
    return (
        f"<!DOCTYPE html><html lang='{_e(tag)}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta name='robots' content='noindex'>"
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


_LOST_REASONS = {"freezing": N_("freezing"), "heat": N_("heat")}


def _viability(summary: dict[str, Any], lang: Language) -> str:
    forecast = summary.get("forecast") or {}
    rows: list[tuple[str, str]] = []
    if summary["viability"] == "lost":
        reason = _word(_LOST_REASONS, summary.get("viability_lost_reason") or "", lang)
        rows.append((lang.gettext("Viability"), lang.gettext("lost (%(reason)s)", reason=reason)))
    elif forecast.get("viability_remaining_at_eta_h") is not None:
        hours = lang.decimal(forecast["viability_remaining_at_eta_h"])
        left = lang.gettext("%(hours)s h left at arrival", hours=hours)
        if summary["viability"] == "compromised":
            left = lang.gettext("compromised · %(left)s", left=left)
        rows.append((lang.gettext("Viability"), left))
    if summary.get("last_temp_c") is not None:
        rows.append((lang.gettext("Last reading"), f"{lang.decimal(summary['last_temp_c'])} °C"))
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows) + "</dl>" if rows else ""


def _chart_section(view: ShareView) -> str:
    heading = _e(view.lang.gettext("Temperature"))
    if not view.points:
        empty = _e(view.lang.gettext("No readings yet."))
        return f"<section><h2>{heading}</h2><p class='muted'>{empty}</p></section>"
    return f"<section><h2>{heading}</h2>{temperature_svg(view.points, view.limits, view.excursions)}</section>"


def temperature_svg(points: list[Point], limits: dict[str, Any] | None, excursions: list[dict[str, Any]],
                    width: int = 360, height: int = 180) -> str:
    """The temperature band over time, the nominal limits as dashed lines, excursions shaded."""
    t0, t1 = points[0].time.timestamp(), points[-1].time.timestamp()
    values = [p.low for p in points] + [p.high for p in points]
    if limits:
        values += [limits["nominal_low_c"], limits["nominal_high_c"]]
    lo, hi = min(values) - 1, max(values) + 1
    span_t, span_v = max(t1 - t0, 1.0), max(hi - lo, 1.0)

    def x(t: float) -> float:
        return round(34 + (t - t0) / span_t * (width - 40), 1)

    def y(v: float) -> float:
        return round(6 + (hi - v) / span_v * (height - 24), 1)

    shades = []
    for exc in excursions:
        start = datetime.fromisoformat(exc["started_at"]) if isinstance(exc["started_at"], str) else exc["started_at"]
        end = exc.get("ended_at") or points[-1].time
        end = datetime.fromisoformat(end) if isinstance(end, str) else end
        left, right = x(max(start.timestamp(), t0)), x(min(end.timestamp(), t1))
        colour = "#f8b4b4" if exc["severity"] == "critical" else "#fde68a"
        shades.append(f"<rect class='excursion' x='{left}' y='6' width='{max(right - left, 1.5)}' "
                      f"height='{height - 24}' fill='{colour}' opacity='.6'/>")
    band = " ".join(f"{x(p.time.timestamp())},{y(p.high)}" for p in points)
    band += " " + " ".join(f"{x(p.time.timestamp())},{y(p.low)}" for p in reversed(points))
    lines = []
    if limits:
        for key in ("nominal_low_c", "nominal_high_c"):
            lines.append(f"<line class='limit' x1='34' x2='{width - 6}' y1='{y(limits[key])}' y2='{y(limits[key])}' "
                         "stroke='#b42318' stroke-dasharray='4 3'/>"
                         f"<text x='2' y='{y(limits[key]) + 4}' font-size='10'>{limits[key]:g}°</text>")
    return (f"<svg viewBox='0 0 {width} {height}' role='img' aria-label='temperature chart'>"
            f"{''.join(shades)}<polygon points='{band}' fill='#0b57d0' opacity='.35' stroke='#0b57d0'/>"
            f"{''.join(lines)}</svg>")


def _route_section(view: ShareView) -> str:
    s, forecast, lang = view.shipment, view.summary.get("forecast") or {}, view.lang
    stops = [s["origin"]["name"], *[w["name"] for w in s.get("waypoints", [])], s["destination"]["name"]]
    current = forecast.get("leg_index")
    legs = forecast.get("legs") or []
    now_leg = forecast.get("leg_name")
    items = []
    for number, name in enumerate(stops):
        mark = " class='now'" if now_leg and number > 0 and now_leg.endswith(name) else ""
        items.append(f"<li{mark}>{_e(name)}</li>")
    rows = [(lang.gettext("ETA"), _when(forecast.get("eta"), view.zone, lang)),
            (lang.gettext("Deliver by"), _when(s["deliver_by"], view.zone, lang))]
    if now_leg:
        rows.insert(0, (lang.gettext("Under way"), now_leg))
    elif current is not None and legs:
        rows.insert(0, (lang.gettext("Under way"),
                        lang.gettext("leg %(number)s of %(count)s", number=current + 1, count=len(legs))))
    facts = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    heading = _e(lang.gettext("Route"))
    return f"<section><h2>{heading}</h2><ol class='route'>{''.join(items)}</ol><dl>{facts}</dl></section>"


def _excursions_section(view: ShareView) -> str:
    lang = view.lang
    heading = _e(lang.gettext("Excursions"))
    if not view.excursions:
        none = _e(lang.gettext("None."))
        return f"<section><h2>{heading}</h2><p class='muted'>{none}</p></section>"
    rows = "".join(
        f"<tr><td>{_e(_word(_SEVERITIES, x['severity'], lang))} {_e(_word(_KINDS, x['kind'], lang))}</td>"
        f"<td>{_when(x['started_at'], view.zone, lang)} – {_when(x.get('ended_at'), view.zone, lang)}</td>"
        f"<td>{_peak(x, lang)}</td></tr>"
        for x in view.excursions)
    return f"<section><h2>{heading}</h2><table>{rows}</table></section>"


def _peak(excursion: dict[str, Any], lang: Language) -> str:
    peak = excursion.get("peak_c")
    return "" if peak is None else f"{lang.decimal(peak)} °C"


def _alerts_section(view: ShareView) -> str:
    lang = view.lang
    heading = _e(lang.gettext("Alerts"))
    none = _e(lang.gettext("None."))
    if not view.alerts:
        return f"<section><h2>{heading}</h2><p class='muted'>{none}</p></section>"
    late = " · " + lang.gettext("found late")
    acknowledged = _e(lang.gettext("acknowledged"))
    rows = "".join(
        f"<tr><td>{_e(_word(_SEVERITIES, a['severity'], lang))}</td>"
        f"<td>{_e(_word(_KINDS, a['kind'], lang))} {_e(_word(_STEPS, a['step'], lang))}"
        f"{_e(late) if a.get('found_late') else ''}</td><td>{_when(a['raised_at'], view.zone, lang)}</td>"
        f"<td>{acknowledged if a['acknowledged'] else ''}</td></tr>"
        for a in view.alerts)
    return f"<section><h2>{heading}</h2><table>{rows}</table></section>"


def ack_form(alert: dict[str, Any], acknowledged: bool, zone: tzinfo, action: str,
             lang: Language | None = None) -> str:
    """What would be acknowledged, and the one button that does it (a POST)."""
    lang = lang or language_for("en")
    what = (f"{_word(_SEVERITIES, alert['severity'], lang)} · {_word(_KINDS, alert['kind'], lang)} "
            f"{_word(_STEPS, alert['step'], lang)} · {_when(alert['event_time'], zone, lang)}")
    if acknowledged:
        heading, done = lang.gettext("Acknowledgement"), lang.gettext("Acknowledged.")
        return (f"<section id='ack'><h2>{_e(heading)}</h2><p>{_e(what)}</p>"
                f"<p class='state ok'>{_e(done)}</p></section>")
    note = lang.gettext("Opening this page acknowledges nothing; the button does, and it is recorded as yours.")
    heading, button = lang.gettext("Acknowledge this alert"), lang.gettext("Acknowledge")
    return (f"<section id='ack'><h2>{_e(heading)}</h2><p>{_e(what)}</p>"
            f"<form method='post' action='{_e(action)}'><button type='submit' data-action='acknowledge'>"
            f"{_e(button)}</button></form><p class='muted'>{_e(note)}</p></section>")
