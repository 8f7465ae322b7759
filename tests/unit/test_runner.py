"""The supervisor of `coldchain run all`: restarts with a back-off that starts over once healthy."""

from __future__ import annotations

import time

import pytest

from services import runner


def exited(child: runner._Child) -> None:
    assert child.process is not None
    child.process.wait(30)


def test_back_off_grows_while_a_service_keeps_failing_and_starts_over_after_a_healthy_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(runner.SERVICES, "short-lived", "this")  # prints the Zen of Python and exits
    child = runner._Child("short-lived")
    runner._supervise(child)
    delays = []
    for _ in range(3):
        exited(child)
        runner._supervise(child)
        delays.append(child.next_start - time.monotonic())
        child.next_start = 0.0  # do not wait out the back-off in a test
        runner._supervise(child)
    assert delays[0] < delays[1] < delays[2]  # 2 s, 4 s, 8 s
    exited(child)
    child.started_at -= runner.HEALTHY_RUN_S  # as if it had run for a minute before exiting
    runner._supervise(child)
    assert child.restarts == 1 and child.next_start - time.monotonic() <= 2.0
