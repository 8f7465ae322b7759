"""Session fixtures on the real stack (see tests/harness/stack.py for how it is found)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.harness.stack import StackEndpoints, real_stack

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="session")
def stack() -> Iterator[StackEndpoints]:
    with real_stack() as endpoints:
        from services.db.roles import prepare_database

        # as the owner, as `coldchain db migrate` does: migrations, each service role's grants
        # and its login from the session's DSNs; the services then connect as those roles
        prepare_database(endpoints.database_url, endpoints.env)
        yield endpoints


@pytest.fixture(scope="session")
def database_url(stack: StackEndpoints) -> str:
    return stack.database_url


@pytest.fixture(scope="session")
def service_dsn(stack: StackEndpoints) -> Callable[[str], str]:
    """A service's own DSN, as its least-privilege role (services/db/roles.py), else the owner's."""
    from services.db.roles import role

    return lambda service: stack.env.get(role(service).env) or stack.database_url


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Ids that no other test (or earlier run on the same stack) uses."""
    run = uuid.uuid4().hex[:8]
    return lambda prefix: f"{prefix}-{run}"


@pytest.fixture(scope="session")
def provision(stack: StackEndpoints) -> Callable[[str], str]:
    """Gives a device its own MQTT account; returns the password."""

    def add(device_id: str) -> str:
        if stack.kind == "native":
            from devtools.stack.layout import StackLayout, default_root
            from devtools.stack.native import NativeStack

            return NativeStack(StackLayout(default_root())).mosquitto.add_device(device_id)
        pytest.skip(f"device provisioning needs the native stack, not {stack.kind}")

    return add


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
    # The long runs (the hostile-input fuzzer) only in `make chaos`, as tests/chaos's slow faults.
    if os.environ.get("COLDCHAIN_CHAOS") != "all":
        long = [item for item in items if item.get_closest_marker("chaos_long")]
        if long:
            config.hook.pytest_deselected(items=long)
            items[:] = [item for item in items if item not in long]


os.environ.setdefault("COLDCHAIN_INGEST_METRICS_PORT", "0")
os.environ.setdefault("COLDCHAIN_SINK_METRICS_PORT", "0")
os.environ.setdefault("COLDCHAIN_ALERT_METRICS_PORT", "0")
os.environ.setdefault("COLDCHAIN_EXCURSIONS_METRICS_PORT", "0")
os.environ.setdefault("COLDCHAIN_ETA_METRICS_PORT", "0")
os.environ.setdefault("COLDCHAIN_RETENTION_METRICS_PORT", "0")
