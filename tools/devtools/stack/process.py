"""Start and stop background server processes, remembered by pid files."""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class StackError(RuntimeError):
    """A stack step failed; the message says which and where its log is."""


def step(message: str) -> None:
    """One install or start step, told as it begins (a first install takes minutes)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def as_user(user: str | None, argv: Sequence[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to its own account when we are root."""
    if user and os.geteuid() == 0:
        return ["runuser", "-u", user, "--", *argv]
    return list(argv)


def chown_to(user: str | None, *paths: Path) -> None:
    if not user or os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def run(argv: Sequence[str], what: str, log: Path | None = None, **kwargs: object) -> str:
    result = subprocess.run(list(argv), capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()[-2000:]
        if log is not None:
            log.write_text(f"$ {' '.join(argv)}\n{result.stdout}\n{result.stderr}")
        raise StackError(f"{what} failed (exit {result.returncode}): {detail}")
    return str(result.stdout)


def read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def spawn(argv: Sequence[str], pid_file: Path, log_file: Path, env: dict[str, str] | None = None) -> int:
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the CLI exiting; stopped by pid
            env=env,
        )
    pid_file.write_text(str(process.pid))
    return process.pid


def terminate(pid_file: Path, timeout_s: float = 30.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout_s``. Returns whether something was running."""
    pid = read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], what: str, timeout_s: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    tail = ""
    if log is not None and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise StackError(f"{what} did not come up within {timeout_s:.0f}s (log: {log}){tail}")
