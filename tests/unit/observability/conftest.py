from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from services.logs import LogFormat, configure_logging

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_logs() -> Iterator[Lines]:
    """Logging configured as a service's main() does (JSON, INFO), into a buffer; the
    test's previous handlers back afterwards."""
    yield from _configured("json")


@pytest.fixture
def console_logs() -> Iterator[Callable[[], str]]:
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("console", "INFO", "svc", stream=stream)
    try:
        yield stream.getvalue
    finally:
        _restore(*saved)


def _configured(fmt: LogFormat) -> Iterator[Lines]:
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(fmt, "INFO", "svc", stream=stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    finally:
        _restore(*saved)


def _restore(handlers: list[logging.Handler], level: int) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
