from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime

from openpyxl import load_workbook

from schemas.shipment import Quantity, ReferenceDocument
from services.reports.fsma204 import FALLBACK_DOCUMENT_TYPE, HEADERS, fsma_csv, fsma_rows, fsma_xlsx
from services.reports.model import ShipmentReport
from tests.unit.reports.factories import three_day_report


def _report() -> ShipmentReport:
    return replace(three_day_report(), quantity=Quantity(value=480, unit="kg"),
                   reference_documents=(ReferenceDocument(type="air waybill", number="020-12345675"),
                                        ReferenceDocument(type="invoice", number="INV-889")))


def test_one_row_per_shipping_and_receiving_event() -> None:
    report = _report()
    shipping, receiving = fsma_rows(report)
    assert (shipping.critical_tracking_event, receiving.critical_tracking_event) == ("Shipping", "Receiving")
    assert shipping.traceability_lot_code == receiving.traceability_lot_code == "SHP-2026-0042"
    assert shipping.event_time_utc == report.legs[0].departed_at
    assert receiving.event_time_utc == report.legs[1].arrived_at
    assert (shipping.date_shipped, shipping.date_received) == (date(2026, 11, 9), None)
    assert (receiving.date_shipped, receiving.date_received) == (None, date(2026, 11, 11))
    assert (shipping.quantity, shipping.unit_of_measure) == (480, "kg")
    assert shipping.product_description == "Live lobster, out of water, gel-packed"
    assert shipping.ship_from_location == receiving.immediate_previous_source == shipping.traceability_lot_code_source
    assert shipping.ship_from_location == (
        "Shediac Lobster Co., +19025550100; Halifax Stanfield (YHZ) (44.8808, -63.5086)")
    assert shipping.immediate_subsequent_recipient == receiving.receiving_location
    assert receiving.receiving_location == "Hangzhou Fresh Ltd.; Hangzhou buyer warehouse (30.2741, 120.1551)"
    assert (shipping.reference_document_type, shipping.reference_document_number) == (
        "air waybill; invoice", "020-12345675; INV-889")


def test_without_reference_documents_the_shipment_record_is_the_reference() -> None:
    [shipping, _] = fsma_rows(three_day_report())
    assert (shipping.reference_document_type, shipping.reference_document_number) == (
        FALLBACK_DOCUMENT_TYPE, "SHP-2026-0042")
    assert (shipping.quantity, shipping.unit_of_measure) == (None, "")


def test_a_shipment_not_yet_shipped_has_no_rows() -> None:
    report = three_day_report()
    planned = tuple(replace(leg, departed_at=None, arrived_at=None) for leg in report.legs)
    assert fsma_rows(replace(report, legs=planned, actual_arrival=None)) == []
    [only] = fsma_rows(replace(report, legs=(report.legs[0], planned[1]), actual_arrival=None))
    assert only.critical_tracking_event == "Shipping"


def test_xlsx_is_a_sortable_spreadsheet_with_real_dates() -> None:
    book = load_workbook(io.BytesIO(fsma_xlsx(_report())))
    sheet = book.active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == HEADERS
    assert len(rows) == 3  # the header, shipping, receiving
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:O3"
    shipping = dict(zip(HEADERS, rows[1], strict=True))
    receiving = dict(zip(HEADERS, rows[2], strict=True))
    # openpyxl reads Excel dates back as naive datetimes: a real date cell, not text.
    assert shipping["Date Shipped"] == _naive(2026, 11, 9)
    assert receiving["Date Received"] == _naive(2026, 11, 11)
    assert receiving["Date Shipped"] is None
    assert shipping["Event Time (UTC)"] == _naive(2026, 11, 9, 21)
    assert shipping["Quantity"] == 480
    cell = sheet.cell(row=2, column=HEADERS.index("Date Shipped") + 1)
    assert cell.is_date and cell.number_format == "yyyy-mm-dd"


def _naive(*parts: int) -> datetime:
    # Excel cells hold wall time; the column header says it is UTC.
    return datetime(*parts, tzinfo=UTC).replace(tzinfo=None)


def test_csv_has_the_same_rows_as_text() -> None:
    text = fsma_csv(_report()).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == HEADERS
    shipping = dict(zip(HEADERS, rows[1], strict=True))
    assert (shipping["Date Shipped"], shipping["Date Received"]) == ("2026-11-09", "")
    assert shipping["Event Time (UTC)"] == "2026-11-09T21:00:00Z"
    assert len(rows) == 3
