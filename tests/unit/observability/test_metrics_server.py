"""The metrics and health server, over real HTTP on an ephemeral port; the listen address settings."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from services.alerts.settings import AlertSettings
from services.ingest.settings import IngestSettings
from services.metrics_server import ListenAddress, MetricsServer, metrics_address, parse_listen_address

checks: dict[str, bool] = {}


def readiness() -> Mapping[str, bool]:
    return checks


@pytest.fixture
def server() -> Iterator[str]:
    registry = CollectorRegistry()
    Counter("coldchain_test_things", "Things", registry=registry).inc(3)
    serving = MetricsServer(registry, ListenAddress("127.0.0.1", 0), readiness)
    serving.start()
    try:
        yield f"http://127.0.0.1:{serving.port}"
    finally:
        serving.stop()


def test_metrics_are_the_registrys(server: str) -> None:
    answer = httpx.get(f"{server}/metrics", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "coldchain_test_things_total 3.0" in answer.text


def test_healthz_answers_while_the_process_lives(server: str) -> None:
    answer = httpx.get(f"{server}/healthz", timeout=5)
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


def test_readyz_is_200_when_every_dependency_is_connected(server: str) -> None:
    checks.clear()
    checks.update({"kafka": True, "database": True})
    answer = httpx.get(f"{server}/readyz", timeout=5)
    assert (answer.status_code, answer.json()) == (200, {"ready": True, "checks": {"kafka": True, "database": True}})


def test_readyz_is_503_naming_what_is_not_connected(server: str) -> None:
    checks.clear()
    checks.update({"kafka": True, "database": False})
    answer = httpx.get(f"{server}/readyz", timeout=5)
    assert answer.status_code == 503
    assert answer.json() == {"ready": False, "checks": {"kafka": True, "database": False}}


def test_a_check_that_raises_is_not_ready() -> None:
    def broken() -> Mapping[str, bool]:
        raise RuntimeError("pool closed")

    serving = MetricsServer(CollectorRegistry(), ListenAddress("127.0.0.1", 0), broken)
    serving.start()
    try:
        answer = httpx.get(f"http://127.0.0.1:{serving.port}/readyz", timeout=5)
    finally:
        serving.stop()
    assert answer.status_code == 503
    assert answer.json() == {"ready": False, "error": "RuntimeError: pool closed"}


def test_other_paths_are_404(server: str) -> None:
    assert httpx.get(f"{server}/api/v1/shipments", timeout=5).status_code == 404


def test_no_address_serves_nothing() -> None:
    serving = MetricsServer(CollectorRegistry(), None)
    serving.start()
    assert serving.port is None


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:9104", ListenAddress("127.0.0.1", 9104)),
    ("0.0.0.0:9104", ListenAddress("0.0.0.0", 9104)),
    ("[::]:9104", ListenAddress("::", 9104)),
    (":9104", ListenAddress("127.0.0.1", 9104)),
])
def test_listen_addresses(text: str, expected: ListenAddress) -> None:
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize("text", ["9104", "host", "host:port", "127.0.0.1:70000"])
def test_bad_listen_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        parse_listen_address(text)


def test_the_address_wins_over_host_and_port_and_port_0_is_off() -> None:
    assert metrics_address("0.0.0.0:9200", "127.0.0.1", 9101) == ListenAddress("0.0.0.0", 9200)
    assert metrics_address("", "127.0.0.1", 9101) == ListenAddress("127.0.0.1", 9101)
    assert metrics_address("", "127.0.0.1", 0) is None


def test_each_service_reads_its_own_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLDCHAIN_INGEST_METRICS_ADDRESS", "0.0.0.0:9301")
    monkeypatch.delenv("COLDCHAIN_ALERT_METRICS_ADDRESS", raising=False)
    monkeypatch.setenv("COLDCHAIN_ALERT_METRICS_PORT", "9303")
    assert IngestSettings().metrics_listen == ListenAddress("0.0.0.0", 9301)
    assert AlertSettings(alert_ack_secret="x" * 32).metrics_listen == ListenAddress("127.0.0.1", 9303)


def test_a_malformed_address_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLDCHAIN_INGEST_METRICS_ADDRESS", "everywhere")
    with pytest.raises(ValueError, match="host:port"):
        IngestSettings()
