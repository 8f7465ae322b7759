"""The services a bench starts as child processes: waiting for them to be ready, stopping them."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterable
from pathlib import Path


def wait_for_log(name: str, process: subprocess.Popen[bytes], log: Path, text: str, timeout_s: float) -> None:
    """Until ``text`` (any case; faust says "Worker ready") is in the service's log; fails at
    once if the service exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{log.read_text(errors='replace')[-2000:]}")
        if text.lower() in log.read_text(errors="replace").lower():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{name} did not log {text!r} within {timeout_s}s")


def stop_all(processes: Iterable[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to all first (they stop in parallel), then SIGKILL what is still up after 20 s."""
    running = list(processes)
    for process in running:
        if process.poll() is None:
            process.terminate()
    for process in running:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
