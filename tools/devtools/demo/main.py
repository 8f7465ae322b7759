"""`coldchain demo` / `make demo`: stack up, everything started, a fleet live, until Ctrl-C."""

from __future__ import annotations

import os
import signal

from rich.console import Console

from devtools.demo.session import DemoError, DemoSession
from devtools.demo.settings import DemoSettings
from devtools.stack.layout import StackLayout, default_root, export_running_stack_env
from devtools.stack.native import NativeStack
from devtools.stack.process import StackError


def main() -> int:
    console = Console()
    stack = NativeStack(StackLayout(default_root()))
    try:
        console.print("starting the local stack (the first run installs it: a few minutes, each step below)")
        started = stack.up()
    except StackError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    console.print(f"local stack: {', '.join(started) + ' started' if started else 'already running'}")
    # The stack's settings for this process and every service it starts (what is set stays).
    export_running_stack_env(os.environ)
    settings = DemoSettings()
    session = DemoSession(settings, stack, console)
    signal.signal(signal.SIGINT, session.request_stop)
    signal.signal(signal.SIGTERM, session.request_stop)
    code = 1
    try:
        session.start()
        session.banner()
        code = session.watch()
    except DemoError as exc:
        console.print(f"[red]error:[/red] {exc}")
    finally:
        session.stop()
        if started:
            console.print(f"stopping what the demo started: {', '.join(stack.down(only=started))}")
    return code
