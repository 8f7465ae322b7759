"""Service processes started for real, as `coldchain run SERVICE` would, and killable."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """One service as a child process; its output goes to a log file kept for the report."""

    def __init__(self, module: str, env: dict[str, str], log_dir: Path, name: str | None = None) -> None:
        self.module = module
        self.name = name or module.split(".")[-2]
        self.env = env
        self.log_path = log_dir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._started_at_byte = 0  # where this start's output begins in the log

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # A fresh log per test session (readiness is read from it); restarts append.
        log = self.log_path.open("ab" if self.process is not None else "wb")
        self._started_at_byte = log.tell()
        self.process = subprocess.Popen([sys.executable, "-m", self.module], env={**os.environ, **self.env},
                                        stdout=log, stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        """SIGKILL: no goodbye, no flush — what a crash looks like."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def ready(self) -> bool:
        """faust workers log "Worker ready" once their partitions are assigned: anywhere in what
        this start wrote (a flood of warnings after it must not hide it)."""
        if not self.alive():
            raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
        with self.log_path.open("rb") as log:
            log.seek(self._started_at_byte)
            return b"worker ready" in log.read().lower()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def wait_for_http(url: str, timeout_s: float = 30, service: ServiceProcess | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if service is not None and not service.alive():
            raise RuntimeError(f"{service.name} exited:\n{service.log_tail()}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer in {timeout_s}s")


def wait_for(check, timeout_s: float, what: str, interval_s: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")
