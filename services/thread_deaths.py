"""A service whose background thread dies must not live on half-working.

Threads (the Kafka delivery poller, ingest's MQTT loop, a database listener) fail silently
by default: the process stays up, its supervisor sees nothing and never restarts it. Every
service's ``main()`` calls ``exit_when_a_thread_dies()`` first, so such a death ends the
process with a non-zero code and the supervisor restarts it.
"""

from __future__ import annotations

import logging
import os
import threading

EXIT_CODE = 70  # EX_SOFTWARE


def _die(args: threading.ExceptHookArgs) -> None:
    if issubclass(args.exc_type, SystemExit):
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("coldchain").critical(
        "thread %s died of %s: %s; stopping the process so its supervisor restarts it",
        name, args.exc_type.__name__, args.exc_value, exc_info=args.exc_value)
    logging.shutdown()
    os._exit(EXIT_CODE)


def exit_when_a_thread_dies() -> None:
    threading.excepthook = _die
