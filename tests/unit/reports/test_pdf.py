"""The shipment PDF for a 3-day, 1-minute-sampled shipment: rendered, read back with pypdf."""

from __future__ import annotations

import io
import math
import re
import time
from dataclasses import replace
from datetime import timedelta

from pypdf import PdfReader

from services.reports.model import ViabilityRow
from services.reports.pdf import render_pdf, viability_text
from tests.unit.reports.factories import PEAK_C, temperature_at, three_day_report


def textbook_mkt() -> float:
    """MKT = (dH/R) / -ln(mean of exp(-dH/(R T))), evenly spaced samples (USP <1079.2>)."""
    factors = [math.exp(-10_000 / (temperature_at(m) + 273.15)) for m in range(4320)]
    return 10_000 / -math.log(sum(factors) / len(factors)) - 273.15


def test_three_day_report_renders_with_its_figures():
    report = three_day_report()
    started = time.perf_counter()
    pdf = render_pdf(report)
    elapsed = time.perf_counter() - started
    print(f"PDF for {sum(len(d.temperature) for d in report.devices)} readings: {elapsed:.2f} s, {len(pdf):,} bytes")

    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    flat = re.sub(r"\s+", " ", text)
    assert "SHP-2026-0042" in flat
    assert "Shediac Lobster Co." in flat and "Hangzhou Fresh Ltd." in flat
    assert "Shanghai Pudong (PVG)" in flat
    # The statistics row, worked out by hand for the factory's triangle of warmth (3 -> 12.34 -> 3
    # °C over 60 min, nominal high 5 °C): above 5 °C for 60 * 7.34 / 9.34 min, with the area
    # of that triangle; the mean adds 9.34 * 30 degree-samples to 4320 samples of 3 °C;
    # humidity 88 % then 65.5 % from minute 2000 crosses 70 % at minute 1999.8.
    above = 60 * 7.34 / 9.34
    mean = 3.0 + 9.34 * 30 / 4320
    row = (f"TRK-0001 4320 3.00 {PEAK_C:.2f} {mean:.2f} {textbook_mkt():.2f} {above:.1f} {above * 7.34 / 2:.1f} "
           f"0.0 65.5 {(88 * 2000 + 65.5 * 2320) / 4320:.1f} {4319 - 1999.8:.1f}")
    assert row in flat, flat
    # The excursion table, the alert log and the arrival.
    assert "temp_high critical closed 2026-11-10 10:52 UTC 2026-11-10 11:28 UTC 36.0 12.34 °C 171.5" in flat
    assert "buyer sms: sent 11-10 10:57" in flat and "2026-11-10 11:27 UTC by exporter:Hangzhou Fresh Ltd." in flat
    assert "planned arrival (deliver by) 2026-11-11 12:00 UTC" in flat
    assert "actual arrival 2026-11-11 00:00 UTC (12.0 h early)" in flat
    assert "ab" * 32 in flat.replace(" ", "")


def _text(report) -> str:
    pdf = render_pdf(report)
    return re.sub(r"\s+", " ", "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def test_a_lost_shipment_reads_as_lost_not_as_hours_left():
    base = three_day_report()
    lost_at = base.packed_at + timedelta(hours=15, minutes=32)
    lost = replace(base, viability=ViabilityRow("lost", 20.5, 18.1, lost_at, "freezing"))
    assert viability_text(lost) == "LOST (freezing) at 2026-11-10 09:32 UTC"
    flat = _text(lost)
    assert "viability LOST (freezing) at 2026-11-10 09:32 UTC" in flat and "18.1 h" not in flat
    alive = replace(base, viability=ViabilityRow("ok", 20.5, 18.1))
    assert viability_text(alive) == "ok: 18.1 h of budget left at arrival (20.5 h used)"
    assert viability_text(base) == "-"
