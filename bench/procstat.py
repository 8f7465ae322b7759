"""CPU time and resident memory of processes, read from /proc (Linux only).

The benchmark samples the pipeline's processes while it runs, to say where the time goes.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads); None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except OSError:
        return None


def children_of(pid: int) -> list[int]:
    """Direct children, e.g. PostgreSQL's backends under the postmaster."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2:].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / _TICKS, total / _TICKS


def stack_pids(stack_root: Path) -> dict[str, list[int]]:
    """The local stack's server processes (PostgreSQL with its backends), where known."""
    found: dict[str, list[int]] = {}
    for name in ("mosquitto", "kafka"):
        pid = _read_pid(stack_root / "run" / f"{name}.pid")
        if pid is not None:
            found[name] = [pid]
    postmaster = _read_pid(stack_root / "data" / "postgres" / "postmaster.pid")
    if postmaster is not None:
        found["postgres"] = [postmaster]
    return found


def _read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


@dataclass
class Usage:
    """What one named group of processes used over a window."""

    cpu_s: float = 0.0
    rss_samples_mb: list[float] = field(default_factory=list)

    def cpu_pct(self, wall_s: float) -> float:
        return 100.0 * self.cpu_s / wall_s if wall_s > 0 else 0.0

    @property
    def rss_max_mb(self) -> float:
        return max(self.rss_samples_mb, default=0.0)

    @property
    def rss_median_mb(self) -> float:
        return statistics.median(self.rss_samples_mb) if self.rss_samples_mb else 0.0


class ProcessSampler:
    """Samples CPU seconds and RSS of named process groups on a thread, every ``interval_s``.

    ``groups`` maps a name to a function returning its current pids (so a group can follow
    PostgreSQL's backends as they come and go). ``with_children`` names groups whose direct
    children count too.
    """

    def __init__(self, groups: Mapping[str, Callable[[], list[int]]], with_children: frozenset[str] = frozenset(),
                 interval_s: float = 0.25) -> None:
        self.groups = dict(groups)
        self.with_children = with_children
        self.interval_s = interval_s
        self.usage: dict[str, Usage] = {name: Usage() for name in self.groups}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.began = self.ended = 0.0
        self._machine_start = self._machine_end = (0.0, 0.0)

    def start(self) -> None:
        self.began = time.monotonic()
        self._machine_start = machine_busy_seconds()
        self._sample(first=True)
        self._thread = threading.Thread(target=self._loop, name="proc-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample(first=False)
        self.ended = time.monotonic()
        self._machine_end = machine_busy_seconds()

    @property
    def wall_s(self) -> float:
        return self.ended - self.began

    def machine_busy_pct(self) -> float:
        """Busy share of all cores together over the window (200 % = both cores busy)."""
        busy = self._machine_end[0] - self._machine_start[0]
        return 100.0 * busy / self.wall_s if self.wall_s > 0 else 0.0

    def cpu_pct(self) -> dict[str, float]:
        return {name: round(u.cpu_pct(self.wall_s), 1) for name, u in self.usage.items()}

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample(first=False)

    def _sample(self, first: bool) -> None:
        for name, pids_of in self.groups.items():
            pids = pids_of()
            if name in self.with_children:
                pids = pids + [c for p in pids for c in children_of(p)]
            rss = 0
            for pid in pids:
                seconds = cpu_seconds(pid)
                if seconds is None:
                    continue
                if not first:
                    self.usage[name].cpu_s += seconds - self._last.get(pid, seconds)
                self._last[pid] = seconds
                rss += rss_bytes(pid) or 0
            if pids and not first:
                self.usage[name].rss_samples_mb.append(rss / 2**20)
