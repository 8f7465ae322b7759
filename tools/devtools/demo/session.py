"""One demo run: what it starts, in order, and how it stops it again."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import httpx
import psycopg
from rich.console import Console

from devtools.demo.mailbox import Delivered, MailCatcher, SmsCatcher
from devtools.demo.settings import DemoSettings
from devtools.simulate.fleet import FleetOptions, plan_fleet
from devtools.stack.native import NativeStack
from services.api.tokens import create_token
from services.db.roles import prepare_database
from services.kafka.groups import commit_log_end
from services.kafka.topics import ensure_topics

PLANNING_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # device ids do not depend on the start


class DemoError(RuntimeError):
    pass


class DemoSession:
    def __init__(self, settings: DemoSettings, stack: NativeStack, console: Console) -> None:
        self.settings = settings
        self.stack = stack
        self.console = console
        self.seed = settings.demo_seed if settings.demo_seed is not None else int(time.time()) % 1_000_000
        self.prefix = f"DEMO{datetime.now(UTC):%m%d%H%M}"
        self.mail = MailCatcher(settings.mail_dir, self._delivered, port=settings.demo_smtp_port)
        self.sms = SmsCatcher(settings.demo_dir / "sms", self._delivered, port=settings.demo_sms_port)
        self.token = ""
        self.devices: list[str] = []
        self.delivered = {"email": 0, "sms": 0}
        self._services: subprocess.Popen[bytes] | None = None
        self._simulator: subprocess.Popen[bytes] | None = None
        self._logs: list[IO[bytes]] = []
        self._stop = threading.Event()

    # -- start -----------------------------------------------------------------------------
    def start(self) -> None:
        settings = self.settings
        for folder in (settings.demo_dir, settings.log_dir, settings.mail_dir):
            folder.mkdir(parents=True, exist_ok=True)
        applied = prepare_database(settings.dsn, os.environ)  # as the owner; the services use their roles
        ensure_topics(settings.kafka_client_config())
        self.console.print(f"database migrations: {', '.join(applied) or 'up to date'}; Kafka topics ready")
        self._require_free_port()
        self.mail.start()
        self.sms.start()
        self.console.print(f"mail catcher {self.mail.url} -> {settings.mail_dir}; SMS gateway {self.sms.url}")
        for group in self._own_groups().values():
            commit_log_end(settings.kafka_client_config(), group)
        self._services = self._spawn("services", [sys.executable, "-m", "services.cli", "run", "all"])
        self._wait_for_api()
        self.token = create_token(settings.dsn, "ops", None)
        credentials = self._provision_devices()
        self._simulator = self._spawn("simulate", self._simulate_command(credentials),
                                      extra_env={"COLDCHAIN_API_TOKEN": self.token})

    def _own_groups(self) -> dict[str, str]:
        run = self.prefix.lower()
        return {"COLDCHAIN_ALERT_GROUP_ID": f"coldchain-alerts-{run}",
                "COLDCHAIN_EXCURSIONS_APP_ID": f"coldchain-excursions-{run}",
                "COLDCHAIN_ETA_APP_ID": f"coldchain-eta-{run}"}

    def _service_env(self) -> dict[str, str]:
        settings = self.settings
        return {
            **os.environ,
            "COLDCHAIN_DATABASE_URL": settings.dsn,
            "COLDCHAIN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "COLDCHAIN_HTTP_HOST": settings.http_host,
            "COLDCHAIN_HTTP_PORT": str(settings.http_port),
            "COLDCHAIN_PUBLIC_URL": settings.api_url,
            "COLDCHAIN_SMTP_URL": self.mail.url,
            # Groups and processor state of this run's own, from the log's end: the stack may
            # hold earlier runs' and tests' shipments, which are not this demo's to announce.
            **{name: group for name, group in self._own_groups().items()},
            "COLDCHAIN_SMS_URL": self.sms.url,
            # A demo shows alerts as they happen, whatever the hour at the recipients.
            "COLDCHAIN_ALERT_QUIET_CHANNELS": "[]",
        }

    def _spawn(self, name: str, command: list[str], extra_env: dict[str, str] | None = None
               ) -> subprocess.Popen[bytes]:
        log = (self.settings.log_dir / f"{name}.log").open("ab")
        self._logs.append(log)
        # Its own session: Ctrl-C reaches only the demo, which then stops children in order.
        return subprocess.Popen(command, env={**self._service_env(), **(extra_env or {})}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def _require_free_port(self) -> None:
        try:
            httpx.get(f"{self.settings.api_url}/openapi.json", timeout=1)
        except httpx.HTTPError:
            return
        raise DemoError(f"something already answers at {self.settings.api_url}: stop it, or set "
                        "COLDCHAIN_HTTP_PORT to another port")

    def _wait_for_api(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        with self.console.status(f"starting the services (coldchain run all), waiting for {self.settings.api_url}"):
            while time.monotonic() < deadline:
                if self._stop.is_set():
                    raise DemoError("interrupted")
                if self._services is None or self._services.poll() is not None:
                    raise DemoError(f"`coldchain run all` exited:\n{self._tail('services')}")
                try:
                    httpx.get(f"{self.settings.api_url}/openapi.json", timeout=1).raise_for_status()
                    return
                except httpx.HTTPError:
                    time.sleep(0.3)
        raise DemoError(f"the API did not answer within {timeout_s:.0f} s:\n{self._tail('services')}")

    def _provision_devices(self) -> Path:
        """Each simulated tracker gets its own MQTT account (username = device id), as
        `coldchain device add` makes them, so the broker's per-device ACL applies."""
        settings = self.settings
        fleet = plan_fleet(self.seed, settings.demo_shipments, list(settings.demo_scenarios), PLANNING_EPOCH,
                           FleetOptions(id_prefix=self.prefix))
        self.devices = [t.device_id for s in fleet for t in s.trackers]
        passwords = {}
        for number, device_id in enumerate(self.devices, 1):
            passwords[device_id] = secrets.token_urlsafe(18)
            # One broker reload after the last password, not one per device; it returns once
            # the broker has taken the last one (and so every one before it).
            self.stack.mosquitto.set_device_password(device_id, passwords[device_id],
                                                     reload=number == len(self.devices))
        path = settings.demo_dir / f"{self.prefix}-devices.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps(passwords, indent=2) + "\n", encoding="utf-8")
        return path

    def _simulate_command(self, credentials: Path) -> list[str]:
        settings = self.settings
        command = [sys.executable, "-m", "services.cli", "simulate", "--shipments", str(settings.demo_shipments),
                   "--seed", str(self.seed), "--id-prefix", self.prefix, "--duration", str(settings.demo_duration_s),
                   "--register", settings.api_url, "--credentials", str(credentials),
                   "--truth", str(settings.demo_dir / f"{self.prefix}-truth.json")]
        for name in settings.demo_scenarios:
            command += ["--scenario", name]
        return command

    # -- run -------------------------------------------------------------------------------
    def banner(self) -> None:
        settings = self.settings
        self.console.rule("[bold]coldchain demo is running")
        self.console.print(f"dashboard     [bold]{settings.api_url}[/bold]   (API under /api/v1, "
                           f"docs at {settings.api_url}/docs)")
        self.console.print(f"ops token     [bold]{self.token}[/bold]")
        self.console.print(f"fleet         {settings.demo_shipments} shipments {self.prefix}-0001..., "
                           f"{len(self.devices)} trackers, replayed in about {settings.demo_duration_s / 60:.0f} min")
        self.console.print(f"mailbox       {settings.mail_dir}   SMS: {self.sms.log_path}")
        self.console.print(f"logs          {settings.log_dir}")
        self.console.print(f'try           curl -H "Authorization: Bearer {self.token}" '
                           f"{settings.api_url}/api/v1/shipments")
        self.console.print("Ctrl-C stops the demo (and whatever it started).")
        self.console.rule()

    def watch(self) -> int:
        """Print deliveries as they come and a status line now and then, until stopped."""
        simulating = True
        while not self._stop.wait(self.settings.demo_status_every_s):
            if self._services is not None and self._services.poll() is not None:
                self.console.print(f"[red]`coldchain run all` exited[/red]:\n{self._tail('services')}")
                return 1
            if simulating and self._simulator is not None and self._simulator.poll() is not None:
                simulating = False
                outcome = "finished" if self._simulator.returncode == 0 else (
                    f"exited with {self._simulator.returncode}:\n{self._tail('simulate')}")
                self.console.print(f"simulator {outcome}; the pipeline keeps running until Ctrl-C")
            self.console.print(self._status())
        return 0

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def _delivered(self, message: Delivered) -> None:
        self.delivered[message.channel] += 1
        colour = "cyan" if message.channel == "email" else "magenta"
        self.console.print(f"[{colour}]{message.channel:>5}[/{colour}] to {message.to}: {message.text}")

    def _status(self) -> str:
        try:
            with psycopg.connect(self.settings.dsn, autocommit=True, connect_timeout=5) as conn:
                readings = _count(conn, "SELECT count(*) FROM readings WHERE device_id = ANY(%s) "
                                        "AND time > now() - interval '7 days'", [self.devices])
                shipments = _count(conn, "SELECT count(*) FROM shipments WHERE id LIKE %s", [f"{self.prefix}-%"])
                refused = _count(conn, "SELECT count(*) FROM dead_letters WHERE device_id = ANY(%s)", [self.devices])
                excursions = _count(conn, "SELECT count(*) FROM excursions WHERE device_id = ANY(%s)", [self.devices])
        except psycopg.Error as exc:
            return f"[yellow]status unavailable: {exc}[/yellow]"
        parts = [f"shipments {shipments}", f"readings {readings}", f"refused {refused}"]
        if excursions is not None:
            parts.append(f"excursions {excursions}")
        parts += [f"emails {self.delivered['email']}", f"SMS {self.delivered['sms']}"]
        return f"[dim]{datetime.now(UTC):%H:%M:%S}Z[/dim]  " + " · ".join(parts)

    def _tail(self, name: str, lines: int = 20) -> str:
        path = self.settings.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # -- stop ------------------------------------------------------------------------------
    def stop(self) -> None:
        for name, process in (("simulator", self._simulator), ("services", self._services)):
            if process is None or process.poll() is not None:
                continue
            self.console.print(f"stopping the {name}")
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.mail.stop()
        self.sms.stop()
        for log in self._logs:
            log.close()


def _count(conn: psycopg.Connection, sql: str, params: list[object]) -> int | None:
    """A count, or None when the table is not there (yet): a service still being wired."""
    try:
        row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    except psycopg.errors.UndefinedTable:
        return None
    return int(row[0]) if row else 0
