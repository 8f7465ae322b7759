"""The ETA processor and the sink give way to the alert path; the excursion worker claims a
higher priority when it may. Set before any thread starts: the whole process, threads
started later included, runs at the value; a lowered one is never raised back."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

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


CLAIM = """
import logging, os
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
from services.cpu_priority import claim_cpu
if {drop}:
    os.setuid(65534)  # nobody: no CAP_SYS_NICE
print(claim_cpu(-3, "COLDCHAIN_EXCURSIONS_NICE"), os.getpriority(os.PRIO_PROCESS, 0))
"""


def _claim(drop: bool) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-c", CLAIM.format(drop=drop)], capture_output=True, text=True, check=True)
    return done.stdout.strip(), done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="raising a priority needs CAP_SYS_NICE (CI runs as root)")
def test_the_excursion_worker_raises_its_priority_when_it_may() -> None:
    out, err = _claim(drop=False)
    assert out == "True -3"
    assert "raised to nice -3" in err


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to an unprivileged user")
def test_without_the_capability_it_says_which_setting_and_runs_on() -> None:
    out, err = _claim(drop=True)
    assert out == f"False {os.getpriority(os.PRIO_PROCESS, 0)}"
    assert "WARNING" in err and "COLDCHAIN_EXCURSIONS_NICE" in err and "CAP_SYS_NICE" in err


def test_the_excursion_worker_asks_for_a_higher_priority_by_default() -> None:
    from services.excursions.settings import ExcursionSettings

    assert ExcursionSettings().excursions_nice < 0
