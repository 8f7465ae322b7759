"""Which services go first when the machine's cores are all busy.

The ETA processor and the readings sink are throughput work that Kafka buffers for: under
overload they may fall seconds behind and catch up, so they lower their priority
(``yield_cpu``). The excursion processor is the alert path's busiest step: on the 2-core
bench machine under 1,000 readings/s, at equal priority with ingest, Kafka and the load
generator it got half a core and fell seconds behind; it asks for a higher priority
(``claim_cpu``), which needs ``CAP_SYS_NICE`` (root, or systemd's ``Nice=``, or
``cap_add: [SYS_NICE]`` in compose). Both act before any thread starts, so every thread
inherits the value.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def yield_cpu(nice: int) -> None:
    """Lowers this process to ``nice`` (0-19); never raises a priority (an unprivileged
    process could not)."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice > current:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
        log.info("CPU priority lowered to nice %d: the alert path goes first under overload", nice)


def claim_cpu(nice: int, setting: str) -> bool:
    """Raises this process to ``nice`` (-20-0) when it may; False, with a warning naming
    ``setting``, when it may not: the service then runs on at the priority it inherited."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice >= current:
        return True
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except PermissionError:
        log.warning("could not raise the CPU priority to nice %d (%s): that needs CAP_SYS_NICE; "
                    "running at nice %d, so alerts may lag under overload", nice, setting, current)
        return False
    log.info("CPU priority raised to nice %d: the alert path goes first under overload", nice)
    return True
