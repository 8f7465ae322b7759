"""FDA FSMA 204 (21 CFR 1 subpart S) records of a shipment: an electronic sortable
spreadsheet, as CSV or XLSX, from the report model (no database here).

Crustaceans are on the Food Traceability List. The critical tracking events (CTEs) this
shipment shows are its **shipping** at the origin (21 CFR 1.1340) and its **receiving**
at the destination (1.1345), when the route shows them (services/reports/route_events.py:
leg 0 departed, the last leg arrived). One row per event; columns, in order:

1. ``Critical Tracking Event``: ``Shipping`` or ``Receiving``.
2. ``Traceability Lot Code``: the shipment id. coldchain does not know the shipper's own
   lot numbering, and one registration is one lot of product travelling together.
3. ``Traceability Lot Code Source``: location description of where the lot code was
   assigned: the seller at the origin (the seller registers the shipment).
4. ``Product Description``: the registration's ``product_description``, else the product
   profile's description, else the profile name.
5. ``Quantity`` (a number) and 6. ``Unit of Measure``: the registration's ``quantity``;
   empty when it was not given.
7. ``Ship-From Location``: where it was shipped from (shipping; the origin).
8. ``Immediate Subsequent Recipient``: who and where it was shipped to (shipping; the
   buyer at the destination: carriers are transporters, whom the rule leaves out).
9. ``Immediate Previous Source``: who and where it came from (receiving; the seller at
   the origin).
10. ``Receiving Location``: where it was received (receiving; the destination).
11. ``Date Shipped`` / 12. ``Date Received``: the UTC calendar date of the event, a real
    date in the XLSX (``YYYY-MM-DD`` in the CSV).
13. ``Event Time (UTC)``: the event's time, a real date-time in the XLSX, so rows of both
    kinds sort together.
14. ``Reference Document Type`` / 15. ``Reference Document Number``: the registration's
    reference documents, joined with ``; `` in the same order; without any, the
    coldchain shipment record itself (``coldchain shipment record`` / the shipment id).

A *location description* is the party's name and phone, then the place's name and
coordinates (``Hangzhou Fresh Ltd., +8657155500100; Hangzhou buyer warehouse (30.2741,
120.1551)``): the fields the registration holds.

The XLSX has its header row frozen and an autofilter over the table (sortable and
filterable as the FDA asks); the CSV is UTF-8 with a header row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import astuple, dataclass, fields
from datetime import UTC, date, datetime

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from schemas.shipment import Party
from services.reports.model import ShipmentReport
from services.reports.route_events import RouteEvent, place_of, route_events

CSV_MEDIA_TYPE = "text/csv"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FALLBACK_DOCUMENT_TYPE = "coldchain shipment record"


@dataclass(frozen=True)
class FsmaRow:
    critical_tracking_event: str
    traceability_lot_code: str
    traceability_lot_code_source: str
    product_description: str
    quantity: float | None
    unit_of_measure: str
    ship_from_location: str
    immediate_subsequent_recipient: str
    immediate_previous_source: str
    receiving_location: str
    date_shipped: date | None
    date_received: date | None
    event_time_utc: datetime
    reference_document_type: str
    reference_document_number: str


HEADERS: tuple[str, ...] = (
    "Critical Tracking Event", "Traceability Lot Code", "Traceability Lot Code Source", "Product Description",
    "Quantity", "Unit of Measure", "Ship-From Location", "Immediate Subsequent Recipient",
    "Immediate Previous Source", "Receiving Location", "Date Shipped", "Date Received", "Event Time (UTC)",
    "Reference Document Type", "Reference Document Number",
)
assert len(HEADERS) == len(fields(FsmaRow))
_WIDTHS = (12, 18, 40, 30, 10, 10, 40, 40, 40, 40, 12, 12, 20, 24, 24)


def fsma_rows(report: ShipmentReport) -> list[FsmaRow]:
    """One row per shipping or receiving event the route shows, in time order."""
    return [_row(report, e) for e in route_events(report) if e.step in ("shipping", "receiving")]


def _row(report: ShipmentReport, event: RouteEvent) -> FsmaRow:
    origin = location(report.seller, report, 0)
    destination = location(report.buyer, report, len(report.stops) - 1)
    shipping = event.step == "shipping"
    moment = event.time.astimezone(UTC)
    kinds, numbers = _references(report)
    return FsmaRow(
        critical_tracking_event="Shipping" if shipping else "Receiving",
        traceability_lot_code=report.shipment_id,
        traceability_lot_code_source=origin,
        product_description=report.product_description or report.product,
        quantity=report.quantity.value if report.quantity else None,
        unit_of_measure=report.quantity.unit if report.quantity else "",
        ship_from_location=origin if shipping else "",
        immediate_subsequent_recipient=destination if shipping else "",
        immediate_previous_source="" if shipping else origin,
        receiving_location="" if shipping else destination,
        date_shipped=moment.date() if shipping else None,
        date_received=None if shipping else moment.date(),
        event_time_utc=moment,
        reference_document_type=kinds,
        reference_document_number=numbers,
    )


def location(party: Party, report: ShipmentReport, stop_index: int) -> str:
    who = ", ".join(p for p in (party.name, party.phone) if p)
    place = place_of(report, stop_index)
    if place is not None:
        where = f"{place.name} ({_coordinate(place.lat)}, {_coordinate(place.lon)})"
    else:
        where = report.stops[stop_index] if report.stops else ""
    return "; ".join(p for p in (who, where) if p)


def _coordinate(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _references(report: ShipmentReport) -> tuple[str, str]:
    if not report.reference_documents:
        return FALLBACK_DOCUMENT_TYPE, report.shipment_id
    return ("; ".join(d.type for d in report.reference_documents),
            "; ".join(d.number for d in report.reference_documents))


def fsma_csv(report: ShipmentReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for row in fsma_rows(report):
        writer.writerow([_text(v) for v in astuple(row)])
    return out.getvalue().encode("utf-8")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def fsma_xlsx(report: ShipmentReport) -> bytes:
    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)  # a new workbook has one sheet
    sheet.title = "FSMA 204"
    sheet.append(HEADERS)
    rows = fsma_rows(report)
    for row in rows:
        # Excel has no time zones: the column says UTC, the cell holds the UTC wall time.
        sheet.append([v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in astuple(row)])
    _format(sheet, len(rows))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _format(sheet: Worksheet, count: int) -> None:
    sheet.freeze_panes = "A2"
    last = get_column_letter(len(HEADERS))
    sheet.auto_filter.ref = f"A1:{last}{count + 1}"
    for index, width in enumerate(_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    formats = {HEADERS.index("Date Shipped") + 1: "yyyy-mm-dd", HEADERS.index("Date Received") + 1: "yyyy-mm-dd",
               HEADERS.index("Event Time (UTC)") + 1: "yyyy-mm-dd hh:mm:ss"}
    for row in sheet.iter_rows(min_row=2, max_row=count + 1):
        for cell in row:
            if cell.column in formats:
                cell.number_format = formats[cell.column]
