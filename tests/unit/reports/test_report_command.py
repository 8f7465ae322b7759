from __future__ import annotations

import pytest
import typer

from services.reports.report_command import ReportFormat, document_kind


@pytest.mark.parametrize(
    ("format", "output", "kind"),
    [
        (ReportFormat.pdf, "r.pdf", "pdf"),
        (ReportFormat.epcis, "-", "epcis"),
        (ReportFormat.fsma204, "records.xlsx", "fsma204-xlsx"),
        (ReportFormat.fsma204, "RECORDS.XLSX", "fsma204-xlsx"),
        (ReportFormat.fsma204, "records.csv", "fsma204-csv"),
        (ReportFormat.fsma204, "-", "fsma204-csv"),
    ],
)
def test_document_kind(format: ReportFormat, output: str, kind: str) -> None:
    assert document_kind(format, output) == kind


def test_fsma204_refuses_another_suffix() -> None:
    with pytest.raises(typer.BadParameter, match="FILE.csv or FILE.xlsx"):
        document_kind(ReportFormat.fsma204, "records.pdf")
