"""Find the real services for a test session.

1. ``COLDCHAIN_*`` variables already set: use them as they are.
2. A Docker engine answers: testcontainers (official images).
3. Otherwise: the native stack (``coldchain stack up``), stopped again if we started it.

``COLDCHAIN_TEST_DATABASE=NAME`` runs the session on a database of that name on the same
server (made by the owner when missing), every DSN rewritten to it: a change to the schema or
the grants can then be tried without touching the database others share.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REQUIRED = ("COLDCHAIN_KAFKA_BOOTSTRAP", "COLDCHAIN_DATABASE_URL", "COLDCHAIN_MQTT_URL", "COLDCHAIN_MQTT_ADMIN_URL")


@dataclass(frozen=True)
class StackEndpoints:
    env: dict[str, str]
    kind: str  # "environment", "testcontainers" or "native"
    mosquitto_passwd: Path | None  # where devices are provisioned, when we own the broker

    @property
    def database_url(self) -> str:
        return self.env["COLDCHAIN_DATABASE_URL"]

    @property
    def device_url(self) -> str:
        """Where devices connect; brokers with one listener take devices on the ingest one."""
        return self.env.get("COLDCHAIN_MQTT_DEVICE_URL") or self.env["COLDCHAIN_MQTT_URL"]

    @property
    def kafka_bootstrap(self) -> str:
        return self.env["COLDCHAIN_KAFKA_BOOTSTRAP"]


def docker_engine_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


def _native_stack_env() -> dict[str, str] | None:
    from devtools.stack.layout import StackLayout, default_root
    from devtools.stack.native import NativeStack

    layout = StackLayout(default_root())
    return NativeStack(layout).env() if layout.secrets_file.exists() else None


def _test_database() -> str | None:
    return os.environ.get("COLDCHAIN_TEST_DATABASE") or None


def _retarget(env: dict[str, str]) -> dict[str, str]:
    """Every DSN of ``env`` on the test database, when one is asked for."""
    name = _test_database()
    if not name:
        return env
    from services.db.roles import dsn_variables

    return {key: urlunsplit(urlsplit(value)._replace(path=f"/{name}")) if key in dsn_variables() else value
            for key, value in env.items()}


def on_test_database(endpoints: StackEndpoints) -> StackEndpoints:
    """The session's endpoints, and this process's environment (the commands the tests run
    inherit it), on the test database; the owner makes it when it is missing."""
    name = _test_database()
    if not name:
        return endpoints
    import psycopg
    from psycopg import sql

    with psycopg.connect(endpoints.database_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    os.environ.update(_retarget({k: v for k, v in os.environ.items() if k.startswith("COLDCHAIN_")}))
    return StackEndpoints(_retarget(endpoints.env), endpoints.kind, endpoints.mosquitto_passwd)


@contextmanager
def real_stack() -> Iterator[StackEndpoints]:
    with _real_stack() as endpoints:
        yield on_test_database(endpoints)


@contextmanager
def _real_stack() -> Iterator[StackEndpoints]:
    if all(os.environ.get(name) for name in REQUIRED):
        env = {k: v for k, v in os.environ.items() if k.startswith("COLDCHAIN_")}
        native = _native_stack_env()
        # `coldchain stack run` hands us the native stack's own settings: we may provision on it.
        kind = "native" if native and all(_retarget(env).get(k) == v for k, v in _retarget(native).items()) \
            else "environment"
        yield StackEndpoints(env, kind, None)
        return
    if docker_engine_answers():
        from tests.harness.containers import container_stack

        with container_stack() as endpoints:
            yield endpoints
        return
    from devtools.stack.layout import StackLayout, default_root
    from devtools.stack.native import NativeStack

    stack = NativeStack(StackLayout(default_root()))
    started = stack.up()
    try:
        yield StackEndpoints(stack.env(), "native", stack.mosquitto.password_file)
    finally:
        stack.down(only=started)
