"""Structured logs: one format for structlog's and the stdlib's records, the ids as keys of their own."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import structlog
from structlog.contextvars import bound_contextvars

from schemas.deadletter import DeadLetter
from schemas.reading import Reading, ReadingBatch
from services.ingest.bridge import IngestBridge
from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings
from services.logs import LogSettings, ids_of, ids_of_key
from services.registry.bindings import Binding
from tests.unit.observability.conftest import Lines

AT = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)


def test_a_stdlib_call_with_extra_ids_is_one_json_object(json_logs: Lines) -> None:
    logging.getLogger("services.somewhere").warning("refused %s", "it", extra={"device_id": "TRK-1",
                                                                               "shipment_id": "S-1"})
    (line,) = json_logs()
    assert line["event"] == "refused it"
    assert (line["level"], line["logger"], line["service"]) == ("warning", "services.somewhere", "svc")
    assert (line["device_id"], line["shipment_id"]) == ("TRK-1", "S-1")
    assert line["timestamp"].endswith("Z")


def test_ids_bound_around_work_reach_every_line_inside_it(json_logs: Lines) -> None:
    with bound_contextvars(alert_id="al-1", shipment_id="S-1"):
        logging.getLogger("faust.somewhere").info("stdlib")
        structlog.get_logger("services.x").info("structlog", attempt=2)
    logging.getLogger("services.x").info("after")
    inside_stdlib, inside_structlog, after = json_logs()
    assert {k: inside_stdlib[k] for k in ("alert_id", "shipment_id")} == {"alert_id": "al-1", "shipment_id": "S-1"}
    assert (inside_structlog["alert_id"], inside_structlog["attempt"]) == ("al-1", 2)
    assert "alert_id" not in after


def test_an_exception_is_part_of_its_line(json_logs: Lines) -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("services.x").exception("handler failed", extra={"shipment_id": "S-1"})
    (line,) = json_logs()
    assert "ValueError: bad" in line["exception"] and line["shipment_id"] == "S-1"


def test_below_the_level_nothing_is_written(json_logs: Lines) -> None:
    logging.getLogger("services.x").debug("noise")
    assert json_logs() == []


def test_uvicorns_coloured_copy_is_dropped(json_logs: Lines) -> None:
    logging.getLogger("uvicorn.error").info("started", extra={"color_message": "\x1b[1mstarted\x1b[0m"})
    (line,) = json_logs()
    assert "color_message" not in line


def test_console_lines_carry_the_ids_as_key_values(console_logs: Callable[[], str]) -> None:
    logging.getLogger("services.x").warning("refused", extra={"device_id": "TRK-1"})
    text = console_logs()
    assert "refused" in text and "device_id=TRK-1" in text and "service=svc" in text


def test_log_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (LogSettings().log_format, LogSettings().log_level) == ("console", "INFO")
    monkeypatch.setenv("COLDCHAIN_LOG_FORMAT", "json")
    monkeypatch.setenv("COLDCHAIN_LOG_LEVEL", "warning")
    assert (LogSettings().log_format, LogSettings().log_level) == ("json", "WARNING")
    monkeypatch.setenv("COLDCHAIN_LOG_LEVEL", "loud")
    with pytest.raises(ValueError, match="COLDCHAIN_LOG_LEVEL"):
        LogSettings()


def test_ids_of_messages_and_keys() -> None:
    reading = Reading(device_id="TRK-1", shipment_id="S-1", time=AT, received_at=AT, temp_c=3.0)
    assert ids_of(ReadingBatch(readings=[reading])) == {"device_id": "TRK-1", "shipment_id": "S-1"}
    assert ids_of(object()) == {}
    assert ids_of_key("S-1") == {"shipment_id": "S-1"}
    assert ids_of_key("device:TRK-1") == {"device_id": "TRK-1"}
    assert ids_of_key(None) == {}


def test_an_ingest_refusal_names_its_device(json_logs: Lines) -> None:
    bridge = IngestBridge(IngestSettings(), lambda device, at: Binding(shipment_id=None), IngestMetrics())
    records = bridge._records("coldchain/v1/devices/TRK-7/telemetry", b'{"device_id": "TRK-7", "temp_c": "warm"}', AT)
    assert [DeadLetter.model_validate_json(r.value).device_id for r in records] == ["TRK-7"]
    (line,) = [line for line in json_logs() if line["event"].startswith("refused")]
    assert line["device_id"] == "TRK-7" and line["level"] == "info"
