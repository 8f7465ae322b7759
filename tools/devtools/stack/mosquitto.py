"""Mosquitto from Debian's packages: no anonymous access, a password file and ACLs.

Each device's username is its device id; the ACL pattern lets it publish only under
``coldchain/v1/devices/<its id>/``. Ingest reads everything under the devices tree.
"""

from __future__ import annotations

import asyncio
import fcntl
import getpass
import os
import secrets
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from devtools.stack.debian import ensure_installed
from devtools.stack.layout import CHECKOUT, StackLayout
from devtools.stack.ports import StackPorts
from devtools.stack.process import StackError, port_open, read_pid, run, spawn, terminate, wait_until
from devtools.stack.secrets import StackSecrets
from services.connections import MqttEndpoint
from services.ingest.mqtt_session import Refused, end_session
from services.ingest.mqtt_wire import ProtocolError

# Service accounts and client ids all start so; no device id may (`coldchain device add`).
RESERVED_PREFIX = "coldchain-"
INGEST_USER = "coldchain-ingest"
ADMIN_USER = "coldchain-admin"
MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"

# The same ACL file serves deploy/compose.yaml.
ACL_FILE = CHECKOUT / "deploy" / "mosquitto" / "acl"
# A device's largest payload is a store-and-forward batch; bigger packets are refused by the
# broker before ingest reads them (the decoder's own limit is lower still).
MAX_PACKET_BYTES = 1_048_576
RELOAD_TIMEOUT_S = 15.0


class Mosquitto:
    name = "mosquitto"

    def __init__(self, layout: StackLayout, ports: StackPorts, secrets: StackSecrets) -> None:
        self.layout = layout
        self.ports = ports
        self.secrets = secrets
        self.conf_file = layout.conf / "mosquitto.conf"
        self.password_file = layout.conf / "mosquitto.passwd"
        self.acl_file = layout.conf / "mosquitto.acl"
        self.pid_file = layout.pid_file("mosquitto")

    @property
    def endpoint(self) -> str:
        """Where devices connect (no credentials: each device has its own)."""
        return f"mqtt://{self.ports.host}:{self.ports.mqtt}"

    def _services_url(self, user: str, password: str) -> str:
        return f"mqtt://{user}:{password}@{self.ports.host}:{self.ports.mqtt_services}"

    @property
    def ingest_url(self) -> str:
        return self._services_url(INGEST_USER, self.secrets.mqtt_ingest_password)

    @property
    def admin_url(self) -> str:
        """The development stack's load generator (the simulator, tests, the bench): it may
        publish as any device. Only the local stack has it; no service uses it."""
        return self._services_url(ADMIN_USER, self.secrets.mqtt_admin_password)

    def install(self) -> None:
        ensure_installed(("mosquitto", "mosquitto-clients"))

    def _configure(self) -> None:
        store = self.layout.data / "mosquitto"
        store.mkdir(parents=True, exist_ok=True)
        self.conf_file.write_text(
            "# coldchain: written by `coldchain stack up`\n"
            # Accounts and ACLs for both listeners (per-listener security segfaults Debian's
            # 2.0.11 when it expires a persistent session, and loses queued messages after 2.0.12).
            "per_listener_settings false\n"
            "allow_anonymous false\n"
            f"password_file {self.password_file}\n"
            f"acl_file {self.acl_file}\n"
            f"listener {self.ports.mqtt} {self.ports.host}\n"
            # Devices: a client's id is its username, so no device can take over or wipe another
            # client's persistent session (ingest's included) by naming its client id.
            "use_username_as_clientid true\n"
            # Services (ingest): client ids of their own; keep this listener off the devices' network.
            f"listener {self.ports.mqtt_services} {self.ports.host}\n"
            "persistence true\n"
            f"persistence_location {store}/\n"
            "autosave_interval 30\n"
            "set_tcp_nodelay true\n"
            "max_inflight_messages 1000\n"
            "max_queued_messages 1000000\n"
            "max_queued_bytes 0\n"
            f"max_packet_size {MAX_PACKET_BYTES}\n"
            "log_dest stdout\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            f"user {getpass.getuser()}\n"
        )
        self.acl_file.write_text(ACL_FILE.read_text())
        for user, password in ((INGEST_USER, self.secrets.mqtt_ingest_password),
                               (ADMIN_USER, self.secrets.mqtt_admin_password)):
            self._write_password(self.password_file, user, password)

    def _write_password(self, path: Path, user: str, password: str) -> None:
        """Adds or changes one account. ``mosquitto_passwd`` truncates the file and writes it
        again in place, and a reload (SIGHUP) that read a half-written file dropped connected
        clients, ingest among them, as "not authorised": so the change is made on a copy that
        replaces the file in one rename, one change at a time (the lock), and a reload only ever
        reads a whole file."""
        if ":" in user:
            raise StackError(f"an MQTT username cannot contain ':': {user!r}")
        self.layout.conf.mkdir(parents=True, exist_ok=True)
        with (path.parent / f".{path.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            draft = path.with_name(f".{path.name}.draft")
            draft.unlink(missing_ok=True)
            draft.touch(mode=0o600)
            if path.exists():
                shutil.copyfile(path, draft)
            run([MOSQUITTO_PASSWD, "-b", str(draft), user, password], "mosquitto_passwd")
            os.replace(draft, path)

    def set_device_password(self, device_id: str, password: str, reload: bool = True) -> None:
        """Returns once a running broker lets the device log in (``reload``); with ``reload``
        false the account waits for a later reload (several devices, one reload)."""
        if device_id.startswith(RESERVED_PREFIX):
            raise StackError(f"device ids starting with {RESERVED_PREFIX!r} are reserved for coldchain's services")
        self._write_password(self.password_file, device_id, password)
        if reload:
            self._reload_until_accepted(device_id, password)

    def _reload_until_accepted(self, device_id: str, password: str) -> None:
        """SIGHUP makes the broker re-read its password and ACL files, later, in its own loop,
        and one that arrives while it is reloading is lost (seen: the last of 8 devices added
        in a row was refused until some later reload). So the reload is asked for again until
        the broker takes the new account."""
        deadline = time.monotonic() + RELOAD_TIMEOUT_S
        while (pid := read_pid(self.pid_file)) is not None:
            os.kill(pid, signal.SIGHUP)
            retry_at = min(time.monotonic() + 1.0, deadline)
            while time.monotonic() < retry_at:
                if self._accepts(device_id, password):
                    return
                time.sleep(0.05)
            if time.monotonic() >= deadline:
                raise StackError(f"Mosquitto did not take the account of {device_id} within "
                                 f"{RELOAD_TIMEOUT_S:.0f} s (log: {self.layout.log_file('mosquitto')})")
        # Not running: it reads the file when it starts.

    def _accepts(self, username: str, password: str) -> bool:
        """Whether the broker lets this account log in: ingest's own clean login that leaves no
        session behind (``end_session``), on the services' listener with a client id of its own
        (on the devices' one the client id is the username: it would take over a connected device)."""
        endpoint = MqttEndpoint(self.ports.host, self.ports.mqtt_services, username, password, tls=False)
        login = end_session(endpoint, f"{RESERVED_PREFIX}account-check-{secrets.token_hex(4)}")
        # On a thread of its own: a caller may already run an event loop in this one (sync
        # Playwright's, in the browser tests), where asyncio.run refuses to start another.
        with ThreadPoolExecutor(1) as thread:
            try:
                thread.submit(asyncio.run, login).result()
            except (Refused, ProtocolError, OSError, EOFError):
                return False
        return True

    def add_device(self, device_id: str) -> str:
        password = secrets.token_urlsafe(18)
        self.set_device_password(device_id, password)
        return password

    def start(self) -> bool:
        if read_pid(self.pid_file) is not None and self.answers():
            return False
        self._configure()
        log = self.layout.log_file("mosquitto")
        spawn([MOSQUITTO, "-c", str(self.conf_file)], self.pid_file, log)
        wait_until(self.answers, "Mosquitto", 20, log)
        return True

    def stop(self) -> bool:
        return terminate(self.pid_file, timeout_s=10)

    def answers(self) -> bool:
        return port_open(self.ports.host, self.ports.mqtt)

