"""`coldchain run`: one service in the foreground, or all of them supervised.

``run all`` starts each service as its own process (a crash takes down only that one) and
restarts it with a backoff; SIGTERM/SIGINT stop them all.
"""

from __future__ import annotations

import importlib
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

SERVICES: dict[str, str] = {
    "api": "services.api.main",
    "ingest": "services.ingest.main",
    "sink": "services.sink.main",
    "excursions": "services.excursions.main",
    "eta": "services.eta.app",
    "alerts": "services.alerts.main",
    "retention": "services.retention.main",
}


def run_one(name: str) -> int:
    module = importlib.import_module(SERVICES[name])
    return int(module.main())


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0


# A service that ran this long before it exited was healthy: its back-off starts over.
HEALTHY_RUN_S = 60.0


def run_all(names: list[str]) -> int:
    children = [_Child(name) for name in names]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        for child in children:
            _supervise(child)
        time.sleep(0.2)
    for child in children:
        if child.process is not None and child.process.poll() is None:
            child.process.terminate()
    for child in children:
        if child.process is not None:
            try:
                child.process.wait(15)
            except subprocess.TimeoutExpired:
                child.process.kill()
    return 0


def _supervise(child: _Child) -> None:
    if child.process is not None and child.process.poll() is None:
        return
    now = time.monotonic()
    if child.process is not None:
        code = child.process.returncode
        child.process = None
        if now - child.started_at >= HEALTHY_RUN_S:
            child.restarts = 0
        child.restarts += 1
        child.next_start = now + min(30.0, 2.0 ** min(child.restarts, 5))
        print(f"coldchain: {child.name} exited ({code}); restarting in {child.next_start - now:.0f}s",
              file=sys.stderr, flush=True)
    if now >= child.next_start:
        child.process = subprocess.Popen([sys.executable, "-m", SERVICES[child.name]])
        child.started_at = now
