"""The ETA processor and the sink give way to the alert path: their whole process, threads
started later included, runs at the configured nice value, which is never raised back."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import os, threading
from services.cpu_priority import yield_cpu
yield_cpu({first})
yield_cpu({second})
seen = []
thread = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, 0)))
thread.start(); thread.join()
print(os.getpriority(os.PRIO_PROCESS, 0), seen[0])
"""


def _nice_after(first: int, second: int) -> list[int]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(first=first, second=second)],
                         capture_output=True, text=True, check=True).stdout
    return [int(value) for value in out.split()]


def test_the_process_and_its_later_threads_run_at_the_lowered_priority() -> None:
    expected = max(7, os.getpriority(os.PRIO_PROCESS, 0))  # a niced test run starts higher
    assert _nice_after(7, 7) == [expected, expected]


def test_a_lower_value_later_does_not_raise_the_priority_again() -> None:
    expected = max(9, os.getpriority(os.PRIO_PROCESS, 0))
    assert _nice_after(9, 2) == [expected, expected]


def test_settings_default_to_giving_way() -> None:
    from services.eta.settings import EtaSettings
    from services.sink.settings import SinkSettings

    assert EtaSettings().eta_nice > 0
    assert SinkSettings().sink_nice > 0
