"""`coldchain report SHIPMENT --format pdf|csv|json|epcis|fsma204 -o FILE`: an auditor's records.

CSV and JSON stream the readings (the API's export, services/reports/readings_export.py) straight to the
file in flat memory. The others are documents of the report model: PDF (services/reports/pdf.py),
EPCIS 2.0 JSON-LD (epcis.py; its identifiers use ``COLDCHAIN_PUBLIC_URL``, as the API's do) and
the FSMA 204 sortable spreadsheet (fsma204.py): XLSX when ``-o`` ends in ``.xlsx``, else CSV.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import psycopg
import typer
from psycopg_pool import AsyncConnectionPool
from rich.console import Console

from schemas.shipment import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES, supported_language
from services.connections import AuditorDatabaseSettings
from services.reports.readings_export import as_csv, as_json

if TYPE_CHECKING:
    from services.reports.rendering import DocumentKind


class ReportFormat(StrEnum):
    pdf = "pdf"
    csv = "csv"
    json = "json"
    epcis = "epcis"
    fsma204 = "fsma204"


# Documents of the whole report model, as opposed to the raw readings (csv, json).
DOCUMENTS = frozenset({ReportFormat.pdf, ReportFormat.epcis, ReportFormat.fsma204})


def document_kind(format: ReportFormat, output: str) -> DocumentKind:
    """Which document to write; for fsma204 the file's suffix picks the spreadsheet form."""
    if format is ReportFormat.pdf:
        return "pdf"
    if format is ReportFormat.epcis:
        return "epcis"
    suffix = Path(output).suffix.lower() if output != "-" else ".csv"
    if suffix not in (".csv", ".xlsx"):
        raise typer.BadParameter("fsma204 writes FILE.csv or FILE.xlsx", param_hint="-o")
    return "fsma204-xlsx" if suffix == ".xlsx" else "fsma204-csv"


def _utc(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint=name) from exc
    if moment.tzinfo is None:
        raise typer.BadParameter("needs a UTC offset, e.g. 2026-11-09T18:00:00Z", param_hint=name)
    return moment


_LANG_HELP = f"pdf: its language (BCP 47), one of {', '.join(SUPPORTED_LANGUAGES)}"


def _language(value: str) -> str:
    try:
        return supported_language(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--lang") from exc


def report_command(
    shipment: Annotated[str, typer.Argument(help="the shipment id")],
    format: Annotated[ReportFormat, typer.Option("--format", "-f",
                                                 help="pdf, csv, json, epcis or fsma204")] = ReportFormat.pdf,
    output: Annotated[str, typer.Option("--output", "-o", help="file to write; - for standard output")] = "-",
    start: Annotated[str | None, typer.Option("--from", help="csv/json: readings at or after (ISO 8601)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="csv/json: readings before (ISO 8601)")] = None,
    device: Annotated[str | None, typer.Option(help="csv/json: only this device")] = None,
    profile_file: Annotated[list[Path] | None, typer.Option(
        help="extra product profile (TOML), after COLDCHAIN_EXCURSIONS_PROFILE_FILES")] = None,
    lang: Annotated[str, typer.Option("--lang", help=_LANG_HELP)] = DEFAULT_LANGUAGE,
) -> None:
    """Write a shipment's records: the PDF report, EPCIS 2.0 events, the FSMA 204 spreadsheet,
    or every reading as CSV or JSON."""
    err = Console(stderr=True)
    begin, until = _utc(start, "--from"), _utc(end, "--to")
    kind = document_kind(format, output) if format in DOCUMENTS else None
    language = _language(lang)
    if kind in ("pdf", "fsma204-xlsx") and output == "-" and sys.stdout.isatty():
        raise typer.BadParameter("a PDF or XLSX needs -o FILE (or a pipe)", param_hint="-o")
    dsn = AuditorDatabaseSettings().dsn
    try:
        written = asyncio.run(_write(dsn, shipment, format, kind, output, begin, until, device, profile_file or [],
                                     language))
    except LookupError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except psycopg.OperationalError as exc:
        err.print(f"[red]error:[/red] cannot reach the database: {exc}")
        raise typer.Exit(1) from exc
    if output != "-":
        err.print(f"wrote {output} ({written:,} bytes)")


async def _write(dsn: str, shipment_id: str, format: ReportFormat, kind: DocumentKind | None, output: str,
                 start: datetime | None, end: datetime | None, device: str | None, profile_files: list[Path],
                 language: str = DEFAULT_LANGUAGE) -> int:
    async with AsyncConnectionPool(dsn, min_size=1, max_size=1, open=False) as pool:
        if kind is not None:
            document = await _document(pool, shipment_id, kind, profile_files, language)
            with _open(output) as out:
                out.write(document)
            return len(document)
        from services.registry.postgres import shipment_exists  # here: it imports the zone tables

        async with pool.connection() as conn:
            # The raw history needs only the id: it does not depend on parsing the registration.
            if not await shipment_exists(conn, shipment_id):
                raise LookupError(f"no shipment {shipment_id!r}")
        with _open(output) as out:
            export = as_csv if format is ReportFormat.csv else as_json
            written = 0
            async for chunk in export(pool, shipment_id, start, end, device):
                data = chunk.encode()
                out.write(data)
                written += len(data)
            return written


async def _document(pool: AsyncConnectionPool, shipment_id: str, kind: DocumentKind,
                    profile_files: list[Path], language: str = DEFAULT_LANGUAGE) -> bytes:
    # Imported here: matplotlib and reportlab would slow every other `coldchain` command.
    from services.profiles.settings import ProfileSettings
    from services.registry.postgres import shipment_by_id
    from services.reports.loading import load_report
    from services.reports.rendering import render_document
    from services.reports.settings import LinkSettings

    async with pool.connection() as conn:
        shipment = await shipment_by_id(conn, shipment_id)
        if shipment is None:
            raise LookupError(f"no shipment {shipment_id!r}")
        # The configured profiles, as the processor and the API have them, then --profile-file.
        report = await load_report(conn, shipment, ProfileSettings().catalog(profile_files), datetime.now(UTC))
    document = await asyncio.to_thread(render_document, report, kind, LinkSettings().base_url, language)
    return document.body


def _open(output: str) -> IO[bytes]:
    if output == "-":
        return open(sys.stdout.fileno(), "wb", closefd=False)
    return open(output, "wb")
