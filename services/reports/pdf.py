"""The shipment report as a PDF: a plain ShipmentReport in, bytes out (no database here).

Layout (A4): parties and route, planned versus actual arrival and viability, the temperature and humidity
chart with the limits drawn and excursions shaded, summary statistics per device, the
excursion table, the alert log with delivery and acknowledgement times, and each device's
hash-chain head (what `coldchain verify` checks against).

Written in English, Canadian French or Simplified Chinese (the catalogs of services/i18n).
Chinese is set in reportlab's built-in CID font STSong-Light, which every PDF reader has,
so no font file ships with the product; the chart speaks only units and numbers.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from schemas.shipment import DEFAULT_LANGUAGE
from services.i18n.language import Language, language_for
from services.reports.model import ShipmentReport
from services.reports.statistics import SeriesStatistics
from services.reports.wording import arrival_text, code_word, number, statistics_note, when
from services.reports.wording import viability_text as _viability_text

_EXCURSION_COLOURS = {"critical": "#d62728", "warning": "#ff9f0e"}
CJK_FONT = "STSong-Light"


@dataclass(frozen=True)
class _Styles:
    title: ParagraphStyle
    body: ParagraphStyle
    heading: ParagraphStyle
    small: ParagraphStyle
    grid: TableStyle


@cache
def _cjk_font() -> str:
    """Registered once per process: the Adobe-GB1 font PDF readers bring for Chinese."""
    pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


@cache
def _styles(tag: str) -> _Styles:
    sheet = getSampleStyleSheet()
    # STSong-Light has no bold face: Chinese headings are set in it too, larger.
    regular, bold = (_cjk_font(), _cjk_font()) if tag.startswith("zh") else ("Helvetica", "Helvetica-Bold")
    body = ParagraphStyle(f"body-{tag}", parent=sheet["BodyText"], fontName=regular)
    return _Styles(
        title=ParagraphStyle(f"title-{tag}", parent=sheet["Title"], fontName=bold),
        body=body,
        heading=ParagraphStyle(f"heading-{tag}", parent=sheet["Heading2"], fontName=bold),
        small=ParagraphStyle(f"small-{tag}", parent=body, fontSize=7.5, leading=9),
        grid=TableStyle([
            ("FONTNAME", (0, 0), (-1, -1), regular),
            ("FONTSIZE", (0, 0), (-1, -1), 7.5),
            ("LEADING", (0, 0), (-1, -1), 9),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]),
    )


def viability_text(report: ShipmentReport, language: str = DEFAULT_LANGUAGE) -> str:
    return _viability_text(report, language_for(language))


def render_pdf(report: ShipmentReport, language: str = DEFAULT_LANGUAGE) -> bytes:
    """The report in ``language`` (BCP 47; English when it is not supported)."""
    lang = language_for(language)
    st = _styles(lang.tag)
    _, e = lang.gettext, html.escape  # _: the name the catalog extraction looks for
    out = io.BytesIO()
    title = _("Temperature report %(shipment)s", shipment=report.shipment_id)
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=14 * mm, rightMargin=14 * mm, topMargin=14 * mm,
                            bottomMargin=14 * mm, title=title, author="coldchain", lang=lang.tag)
    width = A4[0] - 28 * mm
    table = _Tables(st, lang)
    generated = _("Product %(product)s (profile %(profile)s); generated %(time)s",
                  product=code_word(lang, "product", report.product), profile=report.limits.profile,
                  time=when(report.generated_at))
    story: list[object] = [
        Paragraph(e(_("Cold-chain report: shipment %(shipment)s", shipment=report.shipment_id)), st.title),
        Paragraph(e(generated), st.body),
        Spacer(1, 3 * mm),
        table(_parties_rows(report, lang), [width * 0.15, width * 0.35, width * 0.5]),
        Spacer(1, 3 * mm),
        Paragraph(e(_("Route and legs")), st.heading),
        Paragraph(" &rarr; ".join(e(s) for s in report.stops), st.small),
        table(_leg_rows(report, lang), None),
        Spacer(1, 2 * mm),
        table(_arrival_rows(report, lang), [width * 0.35, width * 0.65]),
        Paragraph(e(_("Temperature and humidity")), st.heading),
        Image(io.BytesIO(_chart_png(report)), width=width, height=width * 0.5),
        Paragraph(e(_("Summary statistics")), st.heading),
        table(_statistics_rows(report, lang), None),
        Paragraph(e(statistics_note(report, lang)), st.small),
        Paragraph(e(_("Excursions")), st.heading),
        table(_excursion_rows(report, lang), None),
        Paragraph(e(_("Alert log")), st.heading),
        table(_alert_rows(report, lang, st), None),
        Paragraph(e(_("Tamper evidence")), st.heading),
        Paragraph(e(_("SHA-256 hash chain per device over its readings in time order (README, Auditors). "
                      "Keep these heads: `coldchain verify` recomputes the chain, and a stored history "
                      "rewritten after this report cannot end in the same head.")), st.small),
        table([[_("device"), _("chain head")], *[[d, Paragraph(h, st.small)] for d, h in report.chain_heads.items()]],
              [width * 0.2, width * 0.8]),
    ]
    doc.build(story)  # type: ignore[arg-type]
    return out.getvalue()


@dataclass(frozen=True)
class _Tables:
    styles: _Styles
    lang: Language

    def __call__(self, rows: Sequence[Sequence[object]], widths: list[float] | None) -> Table:
        if len(rows) == 1:
            rows = [*rows, [self.lang.gettext("none")] + [""] * (len(rows[0]) - 1)]
        table = Table([list(r) for r in rows], colWidths=widths, repeatRows=1)
        table.setStyle(self.styles.grid)
        return table


def _party(label: str, party: object) -> list[object]:
    name = getattr(party, "name", "")
    contact = ", ".join(x for x in (getattr(party, "email", None), getattr(party, "phone", None)) if x)
    return [label, name, contact]


def _parties_rows(report: ShipmentReport, lang: Language) -> list[list[object]]:
    _ = lang.gettext
    return [[_("party"), _("name"), _("contact")], _party(code_word(lang, "role", "seller"), report.seller),
            _party(code_word(lang, "role", "buyer"), report.buyer)]


def _leg_rows(report: ShipmentReport, lang: Language) -> list[list[object]]:
    _ = lang.gettext
    rows: list[list[object]] = [[_("leg"), _("from"), _("to"), _("mode"), _("state"), _("departed"), _("arrived")]]
    rows += [[leg.index + 1, leg.origin, leg.destination, code_word(lang, "mode", leg.mode),
              code_word(lang, "state", leg.state), when(leg.departed_at), when(leg.arrived_at)] for leg in report.legs]
    return rows


def _arrival_rows(report: ShipmentReport, lang: Language) -> list[list[object]]:
    _ = lang.gettext
    return [["", _("time")],
            [_("packed"), when(report.packed_at)],
            [_("planned arrival (deliver by)"), when(report.deliver_by)],
            [_("first forecast arrival"), when(report.first_eta)],
            [_("latest forecast arrival"), when(report.last_eta)],
            [_("actual arrival"), arrival_text(report, lang)],
            [_("viability"), _viability_text(report, lang)]]


def _statistics_rows(report: ShipmentReport, lang: Language) -> list[list[object]]:
    _, pgettext = lang.gettext, lang.pgettext
    # The "min ..." columns are minutes (out of range, without data, with the humidity low).
    rows: list[list[object]] = [[_("device"), _("readings"), _("min °C"), _("max °C"), _("mean °C"), _("MKT °C"),
                                 pgettext("minutes", "min out of range"), _("degree-min"),
                                 pgettext("minutes", "min no data"), _("RH min %"), _("RH mean %"),
                                 pgettext("minutes", "min RH low")]]
    humidity = report.humidity_statistics()
    for device_id, temp in report.temperature_statistics().items():
        rh: SeriesStatistics | None = humidity.get(device_id)
        rows.append([device_id, temp.count, number(temp.minimum, lang), number(temp.maximum, lang),
                     number(temp.mean, lang), number(temp.mkt_c, lang), number(temp.minutes_out_of_range, lang, 1),
                     number(temp.degree_minutes, lang, 1), number(temp.minutes_without_data, lang, 1),
                     number(rh.minimum if rh else None, lang, 1), number(rh.mean if rh else None, lang, 1),
                     number(rh.minutes_out_of_range if rh else None, lang, 1)])
    return rows


def _excursion_rows(report: ShipmentReport, lang: Language) -> list[list[object]]:
    _, pgettext = lang.gettext, lang.pgettext
    rows: list[list[object]] = [[_("device"), _("kind"), _("severity"), _("status"), _("started"), _("ended"),
                                 pgettext("minutes", "min"), _("peak"), _("degree-min")]]
    for ex in report.excursions:
        if ex.kind == "humidity_low":
            peak = number(ex.peak_humidity_pct, lang, 1) + " %"
        else:
            peak = number(ex.peak_c, lang, 2) + " °C"
        rows.append([ex.device_id, code_word(lang, "kind", ex.kind), code_word(lang, "severity", ex.severity),
                     code_word(lang, "status", ex.status), when(ex.started_at), when(ex.ended_at),
                     number(ex.duration_min, lang, 1), peak, number(ex.degree_minutes, lang, 1)])
    return rows


def _deliveries(alert_deliveries: Iterable[object], lang: Language) -> str:
    parts = []
    for d in alert_deliveries:
        sent = getattr(d, "sent_at", None)
        line = lang.pgettext("delivery", "%(role)s %(channel)s: %(status)s",
                             role=code_word(lang, "role", getattr(d, "role", "")),
                             channel=code_word(lang, "channel", getattr(d, "channel", "")),
                             status=code_word(lang, "status", getattr(d, "status", "")))
        parts.append(html.escape(line) + (f" {sent.strftime('%m-%d %H:%M')}" if sent else ""))
    return "<br/>".join(parts) or "-"


def _alert_rows(report: ShipmentReport, lang: Language, st: _Styles) -> list[list[object]]:
    _ = lang.gettext
    rows: list[list[object]] = [[_("event"), _("alert"), _("raised"), _("deliveries (UTC)"), _("acknowledged")]]
    for a in report.alerts:
        ack = html.escape(_("no"))
        if a.acknowledged_at:
            by = _("by %(who)s", who=a.acknowledged_by or "")  # not in the f-string: extraction cannot see there
            ack = f"{when(a.acknowledged_at)}<br/>{html.escape(by)}"
        what = lang.pgettext("alert", "%(kind)s %(step)s (%(severity)s)", kind=code_word(lang, "kind", a.kind),
                             step=code_word(lang, "step", a.step), severity=code_word(lang, "severity", a.severity))
        rows.append([when(a.event_time), what, when(a.raised_at),
                     Paragraph(_deliveries(a.deliveries, lang), st.small), Paragraph(ack, st.small)])
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
    temp_axes.set_ylabel("°C")  # units only: the same chart in every language
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
        rh_axes.set_ylabel("% RH")
        rh_axes.set_ylim(0, 105)
    temp_axes.legend(loc="upper left", fontsize=7)
    temp_axes.grid(alpha=0.3)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
