"""`coldchain eta calibrate -o FILE`: learn per-place dwell and per-leg timing from history.

Reads the completed shipments in TimescaleDB (``services.eta.history``), learns with the
pure estimator (``services.eta.calibration``) and writes the learned fields as JSON; the
ETA processor loads them with ``COLDCHAIN_ETA_MODEL_FILE=FILE``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.connections import AuditorDatabaseSettings
from services.eta.calibration import calibrate
from services.eta.history import completed_trips
from services.eta.settings import EtaSettings

app = typer.Typer(help="The ETA model.", no_args_is_help=True)
err = Console(stderr=True)


@app.command("calibrate")
def calibrate_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="the parameters file to write (JSON)")],
    days: Annotated[int, typer.Option(min=1, help="learn from shipments packed in the last DAYS days")] = 180,
    min_trips: Annotated[int, typer.Option(min=1, help="shipments needed before a value is learned")] = 3,
) -> None:
    """Learn planned dwell per place and timing per leg from completed shipments."""
    since = datetime.now(UTC) - timedelta(days=days)
    base = EtaSettings().parameters
    history = completed_trips(AuditorDatabaseSettings().dsn, base, since)
    calibration = calibrate(history.trips, base, min_trips)
    learned = calibration.parameters
    err.print(f"{len(history.trips)} completed of {history.scanned} shipments packed since "
              f"{since:%Y-%m-%d}" + (f"; {len(history.unreadable)} unreadable" if history.unreadable else ""))
    table = Table("place or leg", "learned", "shipments")
    for name, count in sorted(calibration.dwell_samples.items()):
        dwell = learned.place_dwell_h.get(name)
        table.add_row(name, f"dwell {dwell:.2f} h" if dwell is not None else "(too few)", str(count))
    for name, count in sorted(calibration.leg_samples.items()):
        timing = learned.leg_timing.get(name)
        text = (f"extra {timing.extra_h:+.2f} h, booked {timing.booked_extra_h:+.2f} h, "
                f"leaves STD {timing.departure_offset_h:+.2f} h" if timing else "(too few)")
        table.add_row(name, text, str(count))
    err.print(table)
    fields = learned.model_dump(mode="json", include={"place_dwell_h", "leg_timing"})
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(fields, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    err.print(f"wrote {output}; load it with COLDCHAIN_ETA_MODEL_FILE={output}")
