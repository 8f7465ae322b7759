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


def _e(value: object) -> str:
    return html.escape(str(value))


def _when(at: datetime | str | None, zone: tzinfo) -> str:
    if at is None:
        return "—"
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%d %b %H:%M} UTC{offset[:3]}:{offset[3:]}"


def _state_class(summary: dict[str, Any]) -> str:
    if summary["viability"] == "lost" or summary["state"] in ("lost", "excursion"):
        return "bad"
    if summary["viability"] == "compromised" or summary["state"] in ("at_risk", "silent"):
        return "warn"
    return "ok"


def render_share_page(view: ShareView) -> str:
    s, summary = view.shipment, view.summary
    parts = [
        f"<section><h1>Shipment {_e(s['id'])}</h1>"
        f"<div class='state {_state_class(summary)}' id='state'>{_e(summary['state_text'])}</div>"
        f"{_viability(summary)}</section>",
        _chart_section(view),
        _route_section(view),
        _excursions_section(view),
        _alerts_section(view),
    ]
    if view.ack_alert is not None:
        parts.append(ack_form(view.ack_alert, view.acknowledged, view.zone, action="ack"))
    body = "".join(parts)
    footer = (f"<p class='muted'>For {_e(view.party)} · {_e(s['seller']['name'])} → {_e(s['buyer']['name'])}"
              f" · times in {_e(getattr(view.zone, 'key', 'UTC'))} · read-only page from coldchain</p>")
    return page(f"Shipment {s['id']}", body + footer)


def page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta name='robots' content='noindex'>"
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def _viability(summary: dict[str, Any]) -> str:
    forecast = summary.get("forecast") or {}
    rows: list[tuple[str, str]] = []
    if summary["viability"] == "lost":
        reason = summary.get("viability_lost_reason") or "a lethal limit"
        rows.append(("Viability", f"lost ({reason})"))
    elif forecast.get("viability_remaining_at_eta_h") is not None:
        label = "compromised · " if summary["viability"] == "compromised" else ""
        rows.append(("Viability", f"{label}{forecast['viability_remaining_at_eta_h']:.1f} h left at arrival"))
    if summary.get("last_temp_c") is not None:
        rows.append(("Last reading", f"{summary['last_temp_c']:.1f} °C"))
    return "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows) + "</dl>" if rows else ""


def _chart_section(view: ShareView) -> str:
    if not view.points:
        return "<section><h2>Temperature</h2><p class='muted'>No readings yet.</p></section>"
    return f"<section><h2>Temperature</h2>{temperature_svg(view.points, view.limits, view.excursions)}</section>"


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
    s, forecast = view.shipment, view.summary.get("forecast") or {}
    stops = [s["origin"]["name"], *[w["name"] for w in s.get("waypoints", [])], s["destination"]["name"]]
    current = forecast.get("leg_index")
    legs = forecast.get("legs") or []
    now_leg = forecast.get("leg_name")
    items = []
    for number, name in enumerate(stops):
        mark = " class='now'" if now_leg and number > 0 and now_leg.endswith(name) else ""
        items.append(f"<li{mark}>{_e(name)}</li>")
    rows = [("ETA", _when(forecast.get("eta"), view.zone)), ("Deliver by", _when(s["deliver_by"], view.zone))]
    if now_leg:
        rows.insert(0, ("Under way", now_leg))
    elif current is not None and legs:
        rows.insert(0, ("Under way", f"leg {current + 1} of {len(legs)}"))
    facts = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return f"<section><h2>Route</h2><ol class='route'>{''.join(items)}</ol><dl>{facts}</dl></section>"


def _excursions_section(view: ShareView) -> str:
    if not view.excursions:
        return "<section><h2>Excursions</h2><p class='muted'>None.</p></section>"
    rows = "".join(
        f"<tr><td>{_e(x['severity'])} {_e(x['kind'].replace('_', ' '))}</td>"
        f"<td>{_when(x['started_at'], view.zone)} – {_when(x.get('ended_at'), view.zone)}</td>"
        f"<td>{_peak(x)}</td></tr>"
        for x in view.excursions)
    return f"<section><h2>Excursions</h2><table>{rows}</table></section>"


def _peak(excursion: dict[str, Any]) -> str:
    peak = excursion.get("peak_c")
    return "" if peak is None else f"{peak:.1f} °C"


def _alerts_section(view: ShareView) -> str:
    if not view.alerts:
        return "<section><h2>Alerts</h2><p class='muted'>None.</p></section>"
    rows = "".join(
        f"<tr><td>{_e(a['severity'])}</td><td>{_e(a['kind'].replace('_', ' '))} {_e(a['step'])}"
        f"{' · found late' if a.get('found_late') else ''}</td><td>{_when(a['raised_at'], view.zone)}</td>"
        f"<td>{'acknowledged' if a['acknowledged'] else ''}</td></tr>"
        for a in view.alerts)
    return f"<section><h2>Alerts</h2><table>{rows}</table></section>"


def ack_form(alert: dict[str, Any], acknowledged: bool, zone: tzinfo, action: str) -> str:
    """What would be acknowledged, and the one button that does it (a POST)."""
    what = (f"{alert['severity']} · {alert['kind'].replace('_', ' ')} {alert['step']} · "
            f"{_when(alert['event_time'], zone)}")
    if acknowledged:
        return (f"<section id='ack'><h2>Acknowledgement</h2><p>{_e(what)}</p>"
                "<p class='state ok'>Acknowledged.</p></section>")
    return (f"<section id='ack'><h2>Acknowledge this alert</h2><p>{_e(what)}</p>"
            f"<form method='post' action='{_e(action)}'><button type='submit'>Acknowledge</button></form>"
            "<p class='muted'>Opening this page acknowledges nothing; the button does, and it is recorded as "
            "yours.</p></section>")
