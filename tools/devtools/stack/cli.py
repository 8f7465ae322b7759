"""`coldchain stack ...` and `coldchain device add`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from devtools.stack.docker import DockerStack
from devtools.stack.layout import StackLayout, default_root
from devtools.stack.native import NativeStack
from devtools.stack.process import StackError
from devtools.stack.sources_check import check_sources
from schemas.common import is_device_id

app = typer.Typer(help="Start, stop and inspect the local Kafka, Mosquitto and TimescaleDB.")
console = Console(stderr=True)


def _native() -> NativeStack:
    return NativeStack(StackLayout(default_root()))


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(1)


@app.command()
def up(docker: Annotated[bool, typer.Option("--docker", help="use deploy/compose.yaml")] = False) -> None:
    """Install once (cached) and start every server that is not running."""
    try:
        if docker:
            DockerStack(StackLayout(default_root())).up()
            return
        started = _native().up()
    except StackError as exc:
        _fail(exc)
    console.print(f"started: {', '.join(started) or 'nothing (all running)'}")


@app.command("check-sources")
def check_sources_command(
    scratch: Annotated[Path | None, typer.Option(help="keep the downloads here (default: a temporary folder)")] = None,
) -> None:
    """Resolve and download every install source (Debian source and binary packages, Kafka's
    Maven jars) into a scratch folder, as a fresh machine would: nothing is built or installed."""
    try:
        if scratch is not None:
            check_sources(scratch)
            return
        with tempfile.TemporaryDirectory(prefix="coldchain-sources-") as folder:
            check_sources(Path(folder))
    except StackError as exc:
        _fail(exc)


@app.command()
def down(docker: Annotated[bool, typer.Option("--docker")] = False) -> None:
    """Stop what `up` started."""
    if docker:
        DockerStack(StackLayout(default_root())).down()
        return
    stopped = _native().down()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@app.command()
def status() -> None:
    """Each endpoint and whether it answers. Exit 0 only when all answer."""
    rows = _native().status()
    table = Table("service", "endpoint", "state")
    for row in rows:
        table.add_row(row.name, row.endpoint, "[green]up[/green]" if row.answers else "[red]down[/red]")
    Console().print(table)
    raise typer.Exit(0 if all(r.answers for r in rows) else 3)


@app.command()
def env() -> None:
    """The COLDCHAIN_* settings of the running local stack, as `export` lines."""
    for key, value in _native().env().items():
        print(f"export {key}='{value}'")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(ctx: typer.Context) -> None:
    """`coldchain stack run -- CMD...`: start the stack, run CMD with its settings, then stop
    only what this call started (a stack that was already up stays up)."""
    if not ctx.args:
        _fail(StackError("usage: coldchain stack run -- COMMAND [ARGS...]"))
    stack = _native()
    try:
        started = stack.up()
    except StackError as exc:
        _fail(exc)
    code = 1
    try:
        code = subprocess.call(ctx.args, env={**os.environ, **stack.env()})
    finally:
        stack.down(only=started)
    raise typer.Exit(code)


device_app = typer.Typer(help="Provision trackers.")


@device_app.command("add")
def device_add(device_id: str) -> None:
    """Provision a device's MQTT credentials: username = device id, password on the last line."""
    if not is_device_id(device_id):
        _fail(StackError("a device id is 1-64 of [A-Za-z0-9_.-]"))
    stack = _native()
    stack.layout.make()
    if not shutil.which("mosquitto_passwd"):
        _fail(StackError("mosquitto is not installed: run `coldchain stack up` first"))
    password = stack.mosquitto.add_device(device_id)
    console.print(f"device {device_id}: MQTT username {device_id}, topic "
                  f"coldchain/v1/devices/{device_id}/telemetry")
    sys.stdout.write(password + "\n")
