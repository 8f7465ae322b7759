"""Device accounts are added to Mosquitto's password file while the broker may reload it at any
moment (each `coldchain device add` sends SIGHUP): every read of the file must be a whole file,
and adds made at the same time must all be kept. `mosquitto_passwd` alone truncates the file
and writes it again in place, so a reload could read it half-written (seen: connected clients,
ingest among them, dropped as "not authorised")."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from devtools.stack.layout import StackLayout
from devtools.stack.mosquitto import Mosquitto
from devtools.stack.ports import StackPorts
from devtools.stack.secrets import StackSecrets

pytestmark = pytest.mark.skipif(not shutil.which("mosquitto_passwd"),
                                reason="needs Debian's mosquitto_passwd (`coldchain stack up` installs it)")


def _broker(root: Path) -> Mosquitto:
    secrets = StackSecrets("pg", "ingest-pw", "admin-pw", "ack")
    broker = Mosquitto(StackLayout(root), StackPorts(), secrets)
    for user, password in (("coldchain-ingest", "ingest-pw"), ("coldchain-admin", "admin-pw")):
        broker._write_password(broker.password_file, user, password)
    return broker


def _users(path: Path) -> set[str]:
    return {line.split(":", 1)[0] for line in path.read_text().splitlines() if line}


def test_adds_made_at_once_are_all_kept(tmp_path: Path) -> None:
    broker = _broker(tmp_path)

    def add(worker: int) -> None:
        for n in range(8):
            broker.set_device_password(f"TRK-{worker}-{n}", f"pw-{worker}-{n}")

    threads = [threading.Thread(target=add, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = {"coldchain-ingest", "coldchain-admin"} | {f"TRK-{w}-{n}" for w in range(4) for n in range(8)}
    assert _users(broker.password_file) == expected
    assert broker.password_file.stat().st_mode & 0o777 == 0o600


def test_a_reload_during_adds_always_reads_a_whole_file(tmp_path: Path) -> None:
    broker = _broker(tmp_path)
    for n in range(30):  # a file long enough to be caught half-written
        broker.set_device_password(f"OLD-{n}", "pw")
    before = _users(broker.password_file)
    torn: list[set[str]] = []
    done = threading.Event()

    def reload_all_the_time() -> None:
        while not done.is_set():
            seen = _users(broker.password_file)
            if not before <= seen:
                torn.append(before - seen)

    reader = threading.Thread(target=reload_all_the_time)
    reader.start()
    try:
        for n in range(25):
            broker.set_device_password(f"NEW-{n}", "pw")
    finally:
        done.set()
        reader.join()
    assert torn == []
    assert _users(broker.password_file) == before | {f"NEW-{n}" for n in range(25)}
