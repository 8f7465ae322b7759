"""The stream processors' consumers let records gather on the broker for their fetch wait:
faust passes aiokafka no ``fetch_min_bytes``, so coldchain sets it on the consumer faust builds."""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
from pathlib import Path

import aiokafka
import faust
import faust.tables.base

from services.eta.app import create_app as create_eta_app
from services.eta.settings import EtaSettings
from services.excursions.app import create_app as create_excursions_app
from services.excursions.settings import ExcursionSettings
from services.kafka.faust_app import FETCH_MIN_BYTES, PRIVATE_API_CHECKED


def test_each_worker_consumer_fetches_with_its_own_wait(tmp_path: Path) -> None:
    asyncio.run(_check_fetch_waits(tmp_path))


async def _check_fetch_waits(tmp_path: Path) -> None:
    # The bootstrap is never contacted: the consumer is built, not started.
    excursions = create_excursions_app(ExcursionSettings(
        kafka_bootstrap="127.0.0.1:1", excursions_data_dir=tmp_path / "x", excursions_fetch_wait_s=0.03))
    eta = create_eta_app(EtaSettings(kafka_bootstrap="127.0.0.1:1", eta_data_dir=tmp_path / "e", eta_fetch_wait_s=0.2))
    for app, wait_ms in ((excursions, 30), (eta, 200)):
        consumer = app.consumer._thread._create_worker_consumer(app.transport)  # type: ignore[attr-defined]
        try:
            assert (consumer._fetch_min_bytes, consumer._fetch_max_wait_ms) == (FETCH_MIN_BYTES, wait_ms)
        finally:
            await consumer.stop()


def test_aiokafka_still_builds_its_fetcher_from_those_attributes() -> None:
    """Setting a renamed attribute would change nothing, silently: this fails first."""
    source = inspect.getsource(aiokafka.AIOKafkaConsumer.start)
    assert "fetch_min_bytes=self._fetch_min_bytes" in source
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in source


def test_the_private_api_was_checked_against_the_installed_versions() -> None:
    """services/kafka/faust_app.py uses private faust and aiokafka attributes: an upgrade must
    be checked there (and these tests run) before the versions here are moved on."""
    installed = {name: importlib.metadata.version(name) for name in PRIVATE_API_CHECKED}
    assert installed == PRIVATE_API_CHECKED


def test_faust_still_has_the_current_event_a_table_write_is_routed_by() -> None:
    assert "_set_current_event" in dict(inspect.getmembers(faust.Stream))
    # A table write with no event of its own sends its changelog record to the partition of
    # faust.streams.current_event(), which _set_current_event sets.
    assert "event if event is not None else current_event()" in inspect.getsource(faust.tables.base)
