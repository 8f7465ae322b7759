"""What deploy/compose.yaml's Mosquitto container runs, run natively: its entrypoint, its config
file and the shared ACL, with Debian's Mosquitto (the same 2.0 broker as the image)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from devtools.stack.mosquitto import INGEST_USER
from paho.mqtt.enums import CallbackAPIVersion

from tests.harness.processes import free_port

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
INGEST_PASSWORD = "ingest-pw-123"


def connect_code(port: int, user: str, password: str, client_id: str | None = None) -> int:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"probe-{user}")
    client.username_pw_set(user, password)
    codes: list[int] = []
    client.on_connect = lambda c, u, f, reason, p: codes.append(reason.value)
    client.connect("127.0.0.1", port)
    deadline = time.monotonic() + 10
    while not codes and time.monotonic() < deadline:
        client.loop(0.1)
    client.disconnect()
    assert codes, "no CONNACK"
    return codes[0]


@pytest.fixture
def container_root(tmp_path: Path) -> Iterator[tuple[Path, int, int]]:
    """The container's /mosquitto as a folder, with the compose file's bind mounts copied in."""
    if not shutil.which("mosquitto_passwd"):
        pytest.skip("Debian's mosquitto is installed by `coldchain stack up`")
    devices, services = free_port(), free_port()
    config = tmp_path / "config"
    config.mkdir()
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    conf = (conf.replace("/mosquitto/", f"{tmp_path}/").replace("listener 1883", f"listener {devices} 127.0.0.1")
            .replace("listener 1884", f"listener {services} 127.0.0.1"))
    (config / "mosquitto.conf").write_text(conf + "user root\n")  # tmp_path is root's alone here
    shutil.copy(DEPLOY / "mosquitto" / "acl", config / "acl")
    yield tmp_path, devices, services


def start(root: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["/bin/sh", str(DEPLOY / "mosquitto" / "entrypoint.sh")],
        env={"PATH": "/usr/sbin:/usr/bin:/bin", "MOSQUITTO_CONF": str(root / "config" / "mosquitto.conf"),
             "MOSQUITTO_DATA": str(root / "data"), **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_listening(port: int, broker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert broker.poll() is None, broker.stdout.read().decode() if broker.stdout else ""
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the broker did not listen")


def stop(broker: subprocess.Popen[bytes]) -> None:
    broker.terminate()
    broker.wait(10)


def test_accounts_listeners_and_device_accounts_that_survive_a_restart(
    container_root: tuple[Path, int, int],
) -> None:
    root, devices, services = container_root
    env = {"COLDCHAIN_MQTT_INGEST_PASSWORD": INGEST_PASSWORD}
    broker = start(root, env)
    try:
        wait_listening(services, broker)
        assert connect_code(services, INGEST_USER, INGEST_PASSWORD) == 0
        assert connect_code(services, INGEST_USER, "wrong") != 0
        assert connect_code(devices, "TRK-ANON", "") != 0  # no anonymous access
        # A device added as the compose file's header says, then a restart (`down`, then `up`)
        subprocess.run(["mosquitto_passwd", "-b", str(root / "data" / "passwd"), "TRK-C1", "dev-pw"],
                       check=True)
    finally:
        stop(broker)
    broker = start(root, env)
    try:
        wait_listening(devices, broker)
        assert connect_code(devices, "TRK-C1", "dev-pw") == 0
        assert connect_code(services, INGEST_USER, INGEST_PASSWORD) == 0  # its password set again
    finally:
        stop(broker)


def test_the_entrypoint_refuses_to_start_without_the_ingest_password(container_root: tuple[Path, int, int]) -> None:
    root, _, _ = container_root
    broker = start(root, {})
    output = broker.communicate(timeout=10)[0].decode()
    assert broker.returncode != 0
    assert "COLDCHAIN_MQTT_INGEST_PASSWORD" in output


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert checker, "check-jsonschema comes with the dev dependencies"
    result = subprocess.run([checker, "--builtin-schema", "vendor.compose-spec", str(DEPLOY / "compose.yaml")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (DEPLOY / "compose.yaml").read_text()
    assert ".stack/" not in text  # standalone: nothing the native stack writes
