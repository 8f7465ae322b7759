"""How every service logs: structlog, with the stdlib's ``logging`` routed through it.

``configure_logging(format, level, service)`` is called once, in each service's ``main()``.
Every record, structlog's and the stdlib's alike (faust, uvicorn, librdkafka's callbacks and
the code base's ``log.warning(...)``), goes through one ``ProcessorFormatter`` and comes out
in one format: a JSON object a line (``COLDCHAIN_LOG_FORMAT=json``) or aligned text
(``console``, the default), with the time (UTC), level, logger, service and message.

The ids a line is about are keys of their own (``shipment_id``, ``alert_id``,
``device_id``): given with ``extra=`` on a stdlib call (``ids_of(record)`` reads them off a
message model), or bound around a piece of work with
``structlog.contextvars.bound_contextvars(alert_id=...)``, which every line logged inside
it, by any library, then carries.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal, TextIO

import structlog
from pydantic import field_validator
from pydantic_settings import BaseSettings
from structlog.typing import EventDict, Processor, WrappedLogger

from services.connections import settings_config

LogFormat = Literal["json", "console"]
ID_KEYS = ("shipment_id", "alert_id", "device_id")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")  # uvicorn takes these too
# Extras some libraries add that are no one's business in a log line (uvicorn's coloured copy
# of each message).
DROPPED_EXTRAS = frozenset({"color_message"})


class LogSettings(BaseSettings):
    """``COLDCHAIN_LOG_FORMAT`` (``console`` or ``json``) and ``COLDCHAIN_LOG_LEVEL``."""

    model_config = settings_config()

    log_format: LogFormat = "console"
    log_level: str = "INFO"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LEVELS:
            raise ValueError(f"COLDCHAIN_LOG_LEVEL {value!r} is not one of {', '.join(LEVELS)}")
        return level


def configure_logging(fmt: LogFormat = "console", level: str | int = "INFO", service: str | None = None,
                      stream: TextIO | None = None) -> None:
    """Replaces the root logger's handlers with one that writes ``fmt`` to ``stream`` (stderr)."""
    shared = _shared_processors(service)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_extras],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_renderers(fmt)],
    ))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def ids_of(record: object) -> dict[str, str]:
    """The ids a message model carries, its own or its first reading's: for ``extra=``."""
    readings = getattr(record, "readings", None)
    sources = [record, *(readings[:1] if isinstance(readings, list) else [])]
    found: dict[str, str] = {}
    for source in sources:
        for key in ID_KEYS:
            value = getattr(source, key, None)
            if isinstance(value, str) and key not in found:
                found[key] = value
    return found


def ids_of_key(key: str | None) -> dict[str, str]:
    """The id a readings record's Kafka key names: its shipment, or ``device:ID`` when unbound
    (``schemas.reading.Reading.key``)."""
    if not key:
        return {}
    device = key.removeprefix("device:")
    return {"device_id": device} if device != key else {"shipment_id": key}


def _shared_processors(service: str | None) -> list[Processor]:
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if service:
        processors.append(_adding({"service": service}))
    return processors


def _renderers(fmt: LogFormat) -> list[Processor]:
    if fmt == "json":
        return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    return [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)]


def _adding(fields: Mapping[str, Any]) -> Processor:
    def add(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        for key, value in fields.items():
            event.setdefault(key, value)
        return event
    return add


def _drop_extras(logger: WrappedLogger, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in DROPPED_EXTRAS:
        event.pop(key, None)
    return event
