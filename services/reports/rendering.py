"""From a shipment id to a report's bytes: the one path both the API and the CLI take."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from schemas.shipment import DEFAULT_LANGUAGE
from services.reports import epcis, fsma204
from services.reports.model import ShipmentReport
from services.reports.pdf import render_pdf

DocumentKind = Literal["pdf", "epcis", "fsma204-csv", "fsma204-xlsx"]


@dataclass(frozen=True)
class Document:
    body: bytes
    media_type: str
    filename: str


def render_document(report: ShipmentReport, kind: DocumentKind, public_url: str,
                    language: str = DEFAULT_LANGUAGE) -> Document:
    """The report model as one of the auditors' documents (CPU work: call it in a thread);
    ``language`` is the PDF's (the EPCIS and FSMA columns are the standards' own words)."""
    name = report.shipment_id
    if kind == "pdf":
        return Document(render_pdf(report, language), "application/pdf", f"{name}.pdf")
    if kind == "epcis":
        body = json.dumps(epcis.epcis_document(report, public_url), ensure_ascii=False, indent=1)
        return Document(body.encode("utf-8"), epcis.MEDIA_TYPE, f"{name}.epcis.jsonld")
    if kind == "fsma204-csv":
        return Document(fsma204.fsma_csv(report), fsma204.CSV_MEDIA_TYPE, f"{name}.fsma204.csv")
    return Document(fsma204.fsma_xlsx(report), fsma204.XLSX_MEDIA_TYPE, f"{name}.fsma204.xlsx")
