"""The dev tools' `coldchain` commands: `stack`, `device`, `simulate` and `demo`.

Installed beside the services (``pip install -e tools``), this adds them to the `coldchain`
command through the ``coldchain.commands`` entry point; a production install has none of it.
"""

from __future__ import annotations

import os

import typer

from devtools.simulate.cli import app as simulate_app
from devtools.stack.cli import app as stack_app
from devtools.stack.cli import device_app
from devtools.stack.layout import export_running_stack_env


def demo() -> None:
    """The whole pipeline, live: stack, services, a mail catcher and a simulated fleet, until Ctrl-C."""
    from devtools.demo.main import main as run_demo

    raise typer.Exit(run_demo())


def register(app: typer.Typer) -> None:
    """Adds the dev commands to `coldchain`, and points every command (and every service
    `coldchain run` starts) at the local stack when it is running and nothing else is set."""
    app.add_typer(stack_app, name="stack")
    app.add_typer(device_app, name="device")
    app.add_typer(simulate_app, name="simulate")
    app.command("demo")(demo)
    export_running_stack_env(os.environ)
