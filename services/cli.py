"""The `coldchain` console command: every sub-command is wired here, in one place."""

from __future__ import annotations

import typer

from services.stack.cli import app as stack_app
from services.stack.cli import device_app

app = typer.Typer(help="coldchain: cold-chain tracking for live-seafood exports.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(device_app, name="device")


def main() -> None:
    app()
