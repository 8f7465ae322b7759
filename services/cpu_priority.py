"""Which services give way when the machine's cores are all busy.

The alert path (ingest, the excursion processor, alerts) runs at normal priority. The ETA
processor and the readings sink are throughput work that Kafka buffers for: under
overload they may fall seconds behind and catch up, while an excursion alert may not.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)


def yield_cpu(nice: int) -> None:
    """Lowers this process to ``nice`` (0-19) before any thread starts, so every thread
    inherits it; never raises a priority (an unprivileged process could not)."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if nice > current:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
        log.info("CPU priority lowered to nice %d: the alert path goes first under overload", nice)
