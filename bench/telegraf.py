"""Telegraf, the peer: built from the Go module proxy into the ignored stack folder, configured
for the same Mosquitto and TimescaleDB as coldchain, and run as a child process.

Nothing of Telegraf is committed: ``go install`` fetches its module at a fixed version, and
every Go folder (GOPATH, GOMODCACHE, GOCACHE, GOBIN, Go's own config) is under
``.stack/downloads/telegraf/``, so nothing lands in ``$HOME``. A binary already there, of the
same version and build tags, is reused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from bench.children import stop_all, wait_for_log
from services.connections import parse_mqtt_url
from services.ingest.session import end_session

MODULE = "github.com/influxdata/telegraf"
VERSION = "v1.37.2"
# `custom` builds only the plugins named by the other tags: a small binary, a short build.
BUILD_TAGS = ("custom", "inputs.mqtt_consumer", "outputs.postgresql", "parsers.json")
DEVICE_TOPIC = "coldchain/v1/devices/+/telemetry"


def go_env(folder: Path) -> dict[str, str]:
    """Go's settings for a build that keeps everything under ``folder``."""
    gopath = folder / "gopath"
    return {
        "GOPATH": str(gopath),
        "GOMODCACHE": str(gopath / "pkg" / "mod"),
        "GOCACHE": str(folder / "gocache"),
        "GOBIN": str(folder / "bin"),
        "GOENV": "off",  # no $HOME/.config/go/env read or written
        "XDG_CONFIG_HOME": str(folder / "config"),  # Go's telemetry counters go here, not $HOME
        "GOTOOLCHAIN": "local",  # the installed go, no toolchain download
        "GOFLAGS": "-modcacherw",  # a cache that `rm -rf` can remove
        "CGO_ENABLED": "0",
    }


def install_command() -> list[str]:
    return ["go", "install", "-tags", ",".join(BUILD_TAGS), f"{MODULE}/cmd/telegraf@{VERSION}"]


def built_matches(binary: Path) -> bool:
    """The binary at ``binary`` is Telegraf ``VERSION`` with ``BUILD_TAGS`` (from ``go version -m``)."""
    if not binary.exists() or shutil.which("go") is None:
        return False
    shown = subprocess.run(["go", "version", "-m", str(binary)], capture_output=True, text=True, check=False,
                           env={**os.environ, **go_env(binary.parent.parent)})
    return _describes(shown.stdout)


def _describes(version_m: str) -> bool:
    module = any(line.split()[:3] == ["mod", MODULE, VERSION] for line in version_m.splitlines())
    tags = any(line.split()[:2] == ["build", f"-tags={','.join(BUILD_TAGS)}"] for line in version_m.splitlines())
    return module and tags


def ensure_telegraf(folder: Path) -> tuple[Path, float]:
    """(the binary, seconds spent building it: 0 when reused)."""
    binary = folder / "bin" / "telegraf"
    if built_matches(binary):
        return binary, 0.0
    if shutil.which("go") is None:
        raise RuntimeError("`go` is not on PATH: Telegraf is built with `go install` from the Go module proxy")
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "build.log"
    print(f"   building Telegraf {VERSION} from the Go module proxy (about 2 minutes; log {log})", flush=True)
    began = time.monotonic()
    with log.open("wb") as out:
        done = subprocess.run(install_command(), env={**os.environ, **go_env(folder)}, stdout=out,
                              stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0 or not built_matches(binary):
        raise RuntimeError(f"go install of Telegraf failed ({done.returncode}):\n"
                           f"{log.read_text(errors='replace')[-2000:]}")
    return binary, time.monotonic() - began


@dataclass(frozen=True)
class TelegrafSettings:
    """The knobs that decide Telegraf's throughput here (measured here: bench/HISTORY.md).

    With QoS 1 and a persistent session Telegraf acknowledges a message only once the output
    wrote it, so at most ``max_undelivered_messages`` (and Mosquitto's own
    ``max_inflight_messages``, 1,000 on the local stack) are in its hands at once. A batch
    is written as soon as it holds ``metric_batch_size`` metrics, else every
    ``flush_interval``: a batch larger than that window never fills.
    """

    max_undelivered_messages: int = 1000
    metric_batch_size: int = 1000
    metric_buffer_limit: int = 100_000  # above the window in metrics (1,000 messages x 20 samples), or it drops
    flush_interval: str = "100ms"
    chunk_interval: str = "1 day"  # the same as coldchain's readings hypertable

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def parse(cls, assignments: Iterable[str]) -> TelegrafSettings:
        """The defaults with ``name=value`` overrides (``--telegraf metric_batch_size=500``)."""
        known = {f.name: f for f in fields(cls)}
        changes: dict[str, Any] = {}
        for assignment in assignments:
            name, sep, value = assignment.partition("=")
            if not sep or name not in known:
                raise ValueError(f"not a Telegraf setting of the bench: {assignment!r} (one of {', '.join(known)})")
            changes[name] = int(value) if known[name].type in (int, "int") else value
        return cls(**changes)


@dataclass(frozen=True)
class PeerTarget:
    """Where this Telegraf reads and writes; the secrets are passed in its environment."""

    mqtt_host: str
    mqtt_port: int
    client_id: str
    schema: str
    table: str = "readings"

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}"


def render_config(target: PeerTarget, settings: TelegrafSettings) -> str:
    """telegraf.conf: the devices' telemetry topic -> the JSON parser -> a hypertable of its own.

    Telegraf substitutes ``${PEER_MQTT_USER}``, ``${PEER_MQTT_PASSWORD}`` and ``${PEER_PG_DSN}``
    from its environment, so the file holds no secret. The table is created on the first
    write, as a hypertable like coldchain's ``readings``, with a ``stored_at`` column (the
    writing transaction's start, as coldchain's) and an index on (device_id, time), the
    columns of coldchain's unique key (Telegraf does not deduplicate).
    """
    create = [
        "CREATE TABLE {{ .table }} ({{ .columns }}, stored_at timestamptz NOT NULL DEFAULT now())",
        "SELECT create_hypertable({{ .table|quoteLiteral }}, "
        f"by_range('time', INTERVAL '{settings.chunk_interval}'))",
        "CREATE INDEX ON {{ .table }} (device_id, time)",
    ]
    templates = ",\n".join(f"    '''{statement}'''" for statement in create)
    return f"""# coldchain bench: the peer (written by bench/telegraf.py)
[agent]
  interval = "10s"
  flush_interval = "{settings.flush_interval}"
  flush_jitter = "0s"
  metric_batch_size = {settings.metric_batch_size}
  metric_buffer_limit = {settings.metric_buffer_limit}
  precision = "1us"
  omit_hostname = true

[[inputs.mqtt_consumer]]
  servers = ["tcp://{target.mqtt_host}:{target.mqtt_port}"]
  topics = ["{DEVICE_TOPIC}"]
  topic_tag = ""
  qos = 1
  persistent_session = true
  client_id = "{target.client_id}"
  username = "${{PEER_MQTT_USER}}"
  password = "${{PEER_MQTT_PASSWORD}}"
  max_undelivered_messages = {settings.max_undelivered_messages}
  name_override = "{target.table}"
  data_format = "json"
  tag_keys = ["device_id"]
  json_time_key = "ts"
  json_time_format = "unix"

[[outputs.postgresql]]
  connection = "${{PEER_PG_DSN}}"
  schema = "{target.schema}"
  timestamp_column_type = "timestamp with time zone"
  create_templates = [
{templates},
  ]
"""


@dataclass
class TelegrafPeer:
    """One Telegraf process for one round: started, measured like coldchain, stopped, and its
    persistent session ended, so the broker queues nothing for it between rounds."""

    services: ClassVar[tuple[str, ...]] = ("telegraf",)

    binary: Path
    target: PeerTarget
    settings: TelegrafSettings
    mqtt_url: str  # an account that may read every device's topic
    dsn: str
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def table(self) -> str:
        return self.target.qualified_table

    @property
    def log(self) -> Path:
        return self.log_dir / f"{self.target.client_id}.log"

    def start(self) -> None:
        endpoint = parse_mqtt_url(self.mqtt_url)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        conf = self.log_dir / f"{self.target.client_id}.conf"
        conf.write_text(render_config(self.target, self.settings), encoding="utf-8")
        env = {**os.environ, "PEER_MQTT_USER": endpoint.username or "",
               "PEER_MQTT_PASSWORD": endpoint.password or "", "PEER_PG_DSN": self.dsn}
        with self.log.open("wb") as out:
            # strict: ${...} replaced in strings only (all this file uses), as v1.38 will default to
            self.process = subprocess.Popen([str(self.binary), "--strict-env-handling", "--config", str(conf)],
                                            env=env, stdout=out, stderr=subprocess.STDOUT)
        wait_for_log("telegraf", self.process, self.log, "Connected", 30)

    def pid(self, name: str) -> list[int]:
        process = self.process
        return [process.pid] if name == "telegraf" and process is not None and process.poll() is None else []

    def stop(self) -> None:
        if self.process is not None:
            stop_all([self.process])
        end_session(self.mqtt_url, self.target.client_id)
