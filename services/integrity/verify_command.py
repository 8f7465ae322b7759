"""`coldchain verify SHIPMENT`: recompute the hash chain of each of the shipment's devices."""

from __future__ import annotations

import sys
from typing import Annotated

import psycopg
import typer
from rich.console import Console

from services.connections import AuditorDatabaseSettings
from services.integrity.sealing import seal_breaks
from services.integrity.store import logged_breaks, shipment_devices, verify_device

EXIT_INTACT, EXIT_BROKEN, EXIT_UNKNOWN = 0, 1, 2


def verify_command(shipment: Annotated[str, typer.Argument(help="the shipment id")]) -> None:
    """Check the tamper evidence of a shipment's stored history; names the first reading that
    differs (exit 1), or prints each device's chain head (exit 0)."""
    out, err = Console(), Console(stderr=True)
    with psycopg.connect(AuditorDatabaseSettings().dsn) as conn:
        devices = shipment_devices(conn, shipment)
        if devices is None:
            err.print(f"[red]error:[/red] no shipment {shipment!r}")
            raise typer.Exit(EXIT_UNKNOWN)
        broken = False
        for device_id in devices:
            verdict = verify_device(conn, device_id)
            earlier = logged_breaks(conn, device_id)
            if verdict.first_break is not None:
                broken = True
                out.print(f"[red]TAMPERED[/red] {device_id}: {verdict.first_break.describe()}", soft_wrap=True)
                if verdict.first_break.stored_hash and verdict.first_break.computed_hash:
                    out.print(f"  stored hash   {verdict.first_break.stored_hash.hex()}\n"
                              f"  computed hash {verdict.first_break.computed_hash.hex()}", soft_wrap=True)
            else:
                head = verdict.head.hex() if verdict.head else "(no readings)"
                out.print(f"[green]intact[/green] {device_id}: {verdict.checked} readings, head {head}",
                          soft_wrap=True)
            for at, key, description in earlier:
                broken = True
                out.print(f"[red]TAMPERED[/red] {device_id}: found by the sink at {at.isoformat()} while "
                          f"re-linking ({key}): {description}", soft_wrap=True)
        for finding in seal_breaks(conn, shipment):
            broken = True
            out.print(f"[red]TAMPERED[/red] sealed {shipment}: {finding}", soft_wrap=True)
    sys.stdout.flush()
    raise typer.Exit(EXIT_BROKEN if broken else EXIT_INTACT)
