"""The shipment report as a PDF: a plain ShipmentReport in, bytes out (no database here).

Layout (A4): parties and route, planned versus actual arrival and viability, the temperature and humidity
chart with the limits drawn and excursions shaded, summary statistics per device, the
excursion table, the alert log with delivery and acknowledgement times, and each device's
hash-chain head (what `coldchain verify` checks against).
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.reports.model import ShipmentReport
from services.reports.statistics import SeriesStatistics

_STYLES = getSampleStyleSheet()
_SMALL = ParagraphStyle("small", parent=_STYLES["BodyText"], fontSize=7.5, leading=9)
_GRID = TableStyle([
    ("FONTSIZE", (0, 0), (-1, -1), 7.5),
    ("LEADING", (0, 0), (-1, -1), 9),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")),
    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
])
_EXCURSION_COLOURS = {"critical": "#d62728", "warning": "#ff9f0e"}


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_pdf(report: ShipmentReport) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=14 * mm, rightMargin=14 * mm, topMargin=14 * mm,
                            bottomMargin=14 * mm, title=f"Temperature report {report.shipment_id}",
                            author="coldchain")
    width = A4[0] - 28 * mm
    story: list[object] = [
        Paragraph(f"Cold-chain report: shipment {report.shipment_id}", _STYLES["Title"]),
        Paragraph(f"Product {report.product} (profile {report.limits.profile}); generated "
                  f"{when(report.generated_at)}", _STYLES["BodyText"]),
        Spacer(1, 3 * mm),
        _table(_parties_rows(report), [width * 0.15, width * 0.35, width * 0.5]),
        Spacer(1, 3 * mm),
        _heading("Route and legs"),
        Paragraph(" &rarr; ".join(html.escape(s) for s in report.stops), _SMALL),
        _table(_leg_rows(report), None),
        Spacer(1, 2 * mm),
        _table(_arrival_rows(report), [width * 0.35, width * 0.65]),
        _heading("Temperature and humidity"),
        Image(io.BytesIO(_chart_png(report)), width=width, height=width * 0.5),
        _heading("Summary statistics"),
        _table(_statistics_rows(report), None),
        Paragraph(_statistics_note(report), _SMALL),
        _heading("Excursions"),
        _table(_excursion_rows(report), None),
        _heading("Alert log"),
        _table(_alert_rows(report), None),
        _heading("Tamper evidence"),
        Paragraph("SHA-256 hash chain per device over its readings in time order (README, Auditors). "
                  "Keep these heads: `coldchain verify` recomputes the chain, and a stored history "
                  "rewritten after this report cannot end in the same head.", _SMALL),
        _table([["device", "chain head"], *[[d, Paragraph(h, _SMALL)] for d, h in report.chain_heads.items()]],
               [width * 0.2, width * 0.8]),
    ]
    doc.build(story)  # type: ignore[arg-type]
    return out.getvalue()


def _heading(text: str) -> Paragraph:
    return Paragraph(text, _STYLES["Heading2"])


def _table(rows: Sequence[Sequence[object]], widths: list[float] | None) -> Table:
    if len(rows) == 1:
        rows = [*rows, ["none"] + [""] * (len(rows[0]) - 1)]
    table = Table([list(r) for r in rows], colWidths=widths, repeatRows=1)
    table.setStyle(_GRID)
    return table


def _party(label: str, party: object) -> list[object]:
    name = getattr(party, "name", "")
    contact = ", ".join(x for x in (getattr(party, "email", None), getattr(party, "phone", None)) if x)
    return [label, name, contact]


def _parties_rows(report: ShipmentReport) -> list[list[object]]:
    return [["party", "name", "contact"], _party("seller", report.seller), _party("buyer", report.buyer)]


def _leg_rows(report: ShipmentReport) -> list[list[object]]:
    rows: list[list[object]] = [["leg", "from", "to", "mode", "state", "departed", "arrived"]]
    rows += [[leg.index + 1, leg.origin, leg.destination, leg.mode, leg.state, when(leg.departed_at),
              when(leg.arrived_at)] for leg in report.legs]
    return rows


def _arrival_rows(report: ShipmentReport) -> list[list[object]]:
    late = ""
    if report.actual_arrival is not None:
        margin = (report.deliver_by - report.actual_arrival).total_seconds() / 3600
        late = f" ({abs(margin):.1f} h {'early' if margin >= 0 else 'LATE'})"
    return [["", "time"],
            ["packed", when(report.packed_at)],
            ["planned arrival (deliver by)", when(report.deliver_by)],
            ["first forecast arrival", when(report.first_eta)],
            ["latest forecast arrival", when(report.last_eta)],
            ["actual arrival", when(report.actual_arrival) + late],
            ["viability", viability_text(report)]]


def viability_text(report: ShipmentReport) -> str:
    """Lost is said as lost, with when and why: a budget in hours means nothing for dead stock."""
    v = report.viability
    if v is None:
        return "-"
    if v.state == "lost":
        return f"LOST ({v.lost_reason or 'lethal limit'}) at {when(v.lost_at)}"
    budget = f"{v.remaining_at_eta_h:.1f} h of budget left at arrival ({v.used_h:.1f} h used)"
    return f"{v.state}: {budget}"


def _statistics_rows(report: ShipmentReport) -> list[list[object]]:
    rows: list[list[object]] = [["device", "readings", "min °C", "max °C", "mean °C", "MKT °C", "min out of range",
                                 "degree-min", "min no data", "RH min %", "RH mean %", "min RH low"]]
    humidity = report.humidity_statistics()
    for device_id, temp in report.temperature_statistics().items():
        rh: SeriesStatistics | None = humidity.get(device_id)
        rows.append([device_id, temp.count, number(temp.minimum), number(temp.maximum), number(temp.mean),
                     number(temp.mkt_c), number(temp.minutes_out_of_range, 1), number(temp.degree_minutes, 1),
                     number(temp.minutes_without_data, 1), number(rh.minimum if rh else None, 1),
                     number(rh.mean if rh else None, 1), number(rh.minutes_out_of_range if rh else None, 1)])
    return rows


def _statistics_note(report: ShipmentReport) -> str:
    limits = report.limits
    return (f"Shipment mean kinetic temperature {number(report.shipment_mkt_c())} °C (dH/R = 10,000 K, "
            f"interval-weighted). Out of range = outside {number(limits.nominal_low_c, 1)}–"
            f"{number(limits.nominal_high_c, 1)} °C (nominal; critical {number(limits.critical_low_c, 1)}–"
            f"{number(limits.critical_high_c, 1)} °C), readings joined by straight lines; gaps over 30 min "
            "count as no data. Degree-minutes: area beyond the nominal limits.")


def _excursion_rows(report: ShipmentReport) -> list[list[object]]:
    rows: list[list[object]] = [["device", "kind", "severity", "status", "started", "ended", "min", "peak",
                                 "degree-min"]]
    for e in report.excursions:
        peak = number(e.peak_humidity_pct, 1) + " %" if e.kind == "humidity_low" else number(e.peak_c, 2) + " °C"
        rows.append([e.device_id, e.kind, e.severity, e.status, when(e.started_at), when(e.ended_at),
                     number(e.duration_min, 1), peak, number(e.degree_minutes, 1)])
    return rows


def _deliveries(alert_deliveries: Iterable[object]) -> str:
    parts = []
    for d in alert_deliveries:
        sent = getattr(d, "sent_at", None)
        parts.append(f"{getattr(d, 'role', '')} {getattr(d, 'channel', '')}: {getattr(d, 'status', '')}"
                     + (f" {sent.strftime('%m-%d %H:%M')}" if sent else ""))
    return "<br/>".join(parts) or "-"


def _alert_rows(report: ShipmentReport) -> list[list[object]]:
    rows: list[list[object]] = [["event", "alert", "raised", "deliveries (UTC)", "acknowledged"]]
    for a in report.alerts:
        ack = f"{when(a.acknowledged_at)}<br/>by {html.escape(a.acknowledged_by or '')}" if a.acknowledged_at else "no"
        rows.append([when(a.event_time), f"{a.kind} {a.step} ({a.severity})", when(a.raised_at),
                     Paragraph(_deliveries(a.deliveries), _SMALL), Paragraph(ack, _SMALL)])
    return rows


def _chart_png(report: ShipmentReport) -> bytes:
    figure = Figure(figsize=(10, 5), dpi=110)
    FigureCanvasAgg(figure)
    temp_axes = figure.add_subplot(111)
    limits = report.limits
    for device in report.devices:
        if device.temperature:
            temp_axes.plot(date2num([s.time for s in device.temperature]), [s.value for s in device.temperature],
                           linewidth=0.8, label=f"{device.device_id} °C")
    for value, style in ((limits.nominal_low_c, "--"), (limits.nominal_high_c, "--"),
                         (limits.critical_low_c, ":"), (limits.critical_high_c, ":")):
        temp_axes.axhline(value, color="#555555", linestyle=style, linewidth=0.7)
    for e in report.excursions:
        if e.kind != "sensor_silent":
            end = e.ended_at or max((d.temperature[-1].time for d in report.devices if d.temperature),
                                    default=e.started_at)
            temp_axes.axvspan(float(date2num(e.started_at)), float(date2num(end)),
                              color=_EXCURSION_COLOURS.get(e.severity, "#ff9f0e"), alpha=0.2)
    temp_axes.set_ylabel("temperature °C")
    locator = AutoDateLocator()
    temp_axes.xaxis.set_major_locator(locator)
    temp_axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if any(d.humidity for d in report.devices):
        rh_axes = temp_axes.twinx()
        for device in report.devices:
            if device.humidity:
                rh_axes.plot(date2num([s.time for s in device.humidity]), [s.value for s in device.humidity],
                             linewidth=0.6, alpha=0.5, color="#2ca02c", label=f"{device.device_id} % RH")
        if limits.humidity_low_pct is not None:
            rh_axes.axhline(limits.humidity_low_pct, color="#2ca02c", linestyle="--", linewidth=0.7)
        rh_axes.set_ylabel("relative humidity %")
        rh_axes.set_ylim(0, 105)
    temp_axes.legend(loc="upper left", fontsize=7)
    temp_axes.grid(alpha=0.3)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
