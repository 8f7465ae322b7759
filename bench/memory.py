"""Resident memory of every service under a steady load: once the load has settled, and again
after ``--minutes`` (10 by default) of the same load. A service that leaks shows as growth.

All six services run as real processes (``coldchain run SERVICE`` as a module), each with its
own MQTT session, consumer groups and faust app ids started at the current end of their
topics, so the run neither replays nor takes anyone else's data on a shared stack. A
publisher process plays a fleet of bound trackers in accelerated device time with a warm
spell every few hours, so excursions open and close and the alert service sends email (to
a local SMTP server in this process that only counts).

``python -m bench.memory --minutes 1`` for a quick run; ``make bench`` runs it with the rest.
RSS is read from /proc (``bench.procstat``): Linux only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from aiosmtpd.controller import Controller
from devtools.stack.layout import default_root
from paho.mqtt.enums import CallbackAPIVersion

from bench.ceilings import SPAWN
from bench.children import stop_all, wait_for_log
from bench.pipeline import delete_bench_readings
from bench.procstat import rss_bytes
from services.api.tokens import create_token
from services.connections import parse_mqtt_url
from services.ingest.session import end_session
from services.kafka.groups import commit_log_end
from services.kafka.topics import ensure_topics

SERVICES = {"api": "services.api.main", "sink": "services.sink.main", "ingest": "services.ingest.main",
            "excursions": "services.excursions.main", "eta": "services.eta.app", "alerts": "services.alerts.main"}
RESULTS = Path(__file__).resolve().parent / "results"
DEVICE_STEP_S = 10  # device seconds between one tracker's readings
WARM_EVERY, WARM_FOR = 3 * 360, 240  # readings: 40 minutes at 9 C every 3 device hours


class CountingInbox:
    """An SMTP handler that keeps nothing but a count: the bench process must not grow."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 Message accepted"


@dataclass(frozen=True)
class Load:
    admin_url: str
    device_prefix: str
    devices: int
    readings_per_s: float
    seconds: float
    base_ts: float  # the first reading's device time (epoch s)


def device_ids(load: Load) -> list[str]:
    return [f"{load.device_prefix}{d:03d}" for d in range(load.devices)]


def steady_publisher(load: Load, results: Any) -> None:
    """Runs in its own process: QoS 1 single readings at ``readings_per_s`` for ``seconds``,
    round-robin over the devices, each device's clock advancing ``DEVICE_STEP_S`` per reading."""
    try:
        endpoint = parse_mqtt_url(load.admin_url)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-mem-{uuid.uuid4().hex[:8]}",
                             protocol=mqtt.MQTTv311)
        if endpoint.username:
            client.username_pw_set(endpoint.username, endpoint.password)
        client.max_inflight_messages_set(100)
        client.connect(endpoint.host, endpoint.port)
        client.loop_start()
        devices = device_ids(load)
        began = time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - began) < load.seconds:
            if (wait := sent / load.readings_per_s - elapsed) > 0:
                time.sleep(wait)
            step, device = divmod(sent, len(devices))
            warm = step % WARM_EVERY < WARM_FOR and step >= WARM_EVERY // 2
            body = {"device_id": devices[device], "ts": load.base_ts + step * DEVICE_STEP_S, "seq": step,
                    "temp_c": 9.0 if warm else 3.0 + (step % 7) / 10, "humidity_pct": 90.0}
            info = client.publish(f"coldchain/v1/devices/{devices[device]}/telemetry", json.dumps(body), qos=1)
            if sent % 1000 == 0:
                info.wait_for_publish(30)  # never let the client's queue run away
            sent += 1
        client.disconnect()
        client.loop_stop()
        results.put((sent, None))
    except Exception as exc:  # reported to the parent
        results.put((0, f"{type(exc).__name__}: {exc}"))


@dataclass
class ServiceSet:
    """The six services as child processes of the bench."""

    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, module in SERVICES.items():
            log = (self.log_dir / f"{name}.log").open("wb")
            self.processes[name] = subprocess.Popen([sys.executable, "-m", module], env={**os.environ, **self.env},
                                                    stdout=log, stderr=subprocess.STDOUT)
        self._wait_for_log("ingest", "subscribed to", 60)
        for name in ("excursions", "eta"):
            self._wait_for_log(name, "ready", 180)
        self._wait_for_log("alerts", "partitions assigned", 60)

    def rss_mb(self) -> dict[str, float | None]:
        found: dict[str, float | None] = {}
        for name, process in self.processes.items():
            rss = rss_bytes(process.pid) if process.poll() is None else None
            found[name] = round(rss / 2**20, 1) if rss is not None else None
        return found

    def _wait_for_log(self, name: str, text: str, timeout_s: float) -> None:
        wait_for_log(name, self.processes[name], self.log_dir / f"{name}.log", text, timeout_s)

    def stop(self) -> None:
        stop_all(self.processes.values())


def _register(api_url: str, token: str, load: Load) -> None:
    packed = datetime.fromtimestamp(load.base_ts, UTC) - timedelta(hours=1)
    with httpx.Client(base_url=api_url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
        for device in device_ids(load):
            body = {
                "id": f"SHP-{device}", "product": "live-lobster", "devices": [device],
                "origin": {"name": "Halifax Stanfield (YHZ)", "lat": 44.8808, "lon": -63.5086},
                "waypoints": [{"name": "Shanghai Pudong (PVG)", "lat": 31.1443, "lon": 121.8083, "mode": "air"}],
                "destination": {"name": "Hangzhou buyer warehouse", "lat": 30.2741, "lon": 120.1551, "mode": "road"},
                "packed_at": packed.isoformat(), "deliver_by": (packed + timedelta(days=4)).isoformat(),
                "seller": {"name": "Bench Seller", "email": "seller@bench.example", "phone": "+19025550100"},
                "buyer": {"name": "Bench Buyer", "email": "buyer@bench.example", "phone": "+8657155500100"},
            }
            response = http.post("/api/v1/shipments", json=body)
            response.raise_for_status()


def _median_rss(services: ServiceSet, seconds: float) -> dict[str, float | None]:
    """Median of a few samples: one reading can catch a transient batch buffer."""
    samples: dict[str, list[float]] = {name: [] for name in SERVICES}
    for _ in range(max(1, int(seconds / 2))):
        for name, mb in services.rss_mb().items():
            if mb is not None:
                samples[name].append(mb)
        time.sleep(2)
    return {name: round(statistics.median(v), 1) if v else None for name, v in samples.items()}


def measure(env: dict[str, str], minutes: float, rate: float = 200.0, devices: int = 40,
            settle_s: float = 60.0) -> dict[str, Any]:
    """Start everything, load it, and return the memory figures (also as a time series)."""
    run = uuid.uuid4().hex[:6]
    api_port = _free_port()
    inbox = CountingInbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    groups = {"sink": f"bench-mem-sink-{run}", "alerts": f"bench-mem-alerts-{run}",
              "excursions": "coldchain-bench-excursions", "eta": "coldchain-bench-eta"}
    bootstrap = env["COLDCHAIN_KAFKA_BOOTSTRAP"]
    ensure_topics({"bootstrap.servers": bootstrap})
    for group in groups.values():
        commit_log_end(bootstrap, group)
    data = default_root() / "data" / "bench-memory"
    data.mkdir(parents=True, exist_ok=True)
    client_id = f"bench-mem-ingest-{run}"
    service_env = {
        **env, "COLDCHAIN_HTTP_PORT": str(api_port), "COLDCHAIN_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
        "COLDCHAIN_INGEST_CLIENT_ID": client_id, "COLDCHAIN_INGEST_SHARE_GROUP": f"bench-mem-{run}",
        "COLDCHAIN_INGEST_METRICS_PORT": "0", "COLDCHAIN_SINK_METRICS_PORT": "0",
        "COLDCHAIN_SINK_GROUP_ID": groups["sink"], "COLDCHAIN_ALERT_GROUP_ID": groups["alerts"],
        "COLDCHAIN_EXCURSIONS_APP_ID": groups["excursions"], "COLDCHAIN_ETA_APP_ID": groups["eta"],
        "COLDCHAIN_EXCURSIONS_DATA_DIR": str(data / "excursions"), "COLDCHAIN_ETA_DATA_DIR": str(data / "eta"),
        "COLDCHAIN_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}", "COLDCHAIN_SMTP_FROM": "bench@coldchain.test",
        "COLDCHAIN_ALERT_QUIET_CHANNELS": "[]",
    }
    services = ServiceSet(service_env, default_root() / "logs" / "bench-memory")
    total_s = settle_s + 20 + minutes * 60 + 20
    device_span_s = math.ceil(total_s * rate / devices) * DEVICE_STEP_S
    load = Load(env["COLDCHAIN_MQTT_ADMIN_URL"], f"BENCH-{run}-MEM-", devices, rate, total_s,
                base_ts=datetime.now(UTC).timestamp() - device_span_s - 600)
    series: list[dict[str, Any]] = []
    results = SPAWN.Queue()
    publisher = SPAWN.Process(target=steady_publisher, args=(load, results))
    try:
        services.start()
        _wait_http(f"http://127.0.0.1:{api_port}/openapi.json")
        _register(f"http://127.0.0.1:{api_port}", create_token(env["COLDCHAIN_DATABASE_URL"], "ops", None), load)
        publisher.start()
        began = time.monotonic()
        print(f"   load {rate:.0f} readings/s from {devices} trackers; settling {settle_s:.0f} s", flush=True)
        time.sleep(settle_s)
        steady = _median_rss(services, 20)
        series.append({"s": round(time.monotonic() - began), **steady})
        end = time.monotonic() + minutes * 60
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(30.0, left))
            series.append({"s": round(time.monotonic() - began), **services.rss_mb()})
            print(f"   {series[-1]}", flush=True)
        after = _median_rss(services, 20)
        dead = [name for name, p in services.processes.items() if p.poll() is not None]
        sent, error = results.get(timeout=120)
        publisher.join(10)
    finally:
        if publisher.is_alive():
            publisher.terminate()
        services.stop()
        smtp.stop()
        end_session(env["COLDCHAIN_MQTT_URL"], client_id)
        delete_bench_readings(env["COLDCHAIN_DATABASE_URL"], f"{load.device_prefix}%",  # not anyone's history
                              datetime.fromtimestamp(load.base_ts, UTC) - timedelta(hours=1))
    rows = [{"service": name, "steady_mb": steady[name], "after_mb": after[name],
             "growth_mb": _diff(after[name], steady[name]),
             "growth_pct": _pct(after[name], steady[name])} for name in SERVICES]
    return {"minutes": minutes, "readings_per_s": rate, "devices": devices, "published": sent,
            "publisher_error": error, "emails_received": inbox.count, "exited": dead,
            "services": rows, "series": series}


def _diff(after: float | None, before: float | None) -> float | None:
    return round(after - before, 1) if after is not None and before is not None else None


def _pct(after: float | None, before: float | None) -> float | None:
    return round(100 * (after - before) / before, 1) if after is not None and before else None


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {timeout_s}s")


def markdown(memory: dict[str, Any] | None) -> str:
    """The memory table, to append to the benchmark report."""
    if not memory:
        return ""
    lines = ["", f"## Resident memory at steady load ({memory['readings_per_s']:.0f} readings/s, "
             f"{memory['devices']} trackers), and after {memory['minutes']:g} more minutes", "",
             "| service | steady MB | after MB | growth MB | growth % |", "|---|---:|---:|---:|---:|"]
    for row in memory["services"]:
        lines.append(f"| {row['service']} | {_fmt(row['steady_mb'])} | {_fmt(row['after_mb'])} | "
                     f"{_fmt(row['growth_mb'])} | {_fmt(row['growth_pct'])} |")
    lines.append("")
    lines.append(f"{memory['published']:,} readings published, {memory['emails_received']} alert emails "
                 f"received; services that exited: {', '.join(memory['exited']) or 'none'}.")
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="resident memory of each service under steady load")
    parser.add_argument("--minutes", type=float, default=10.0, help="of steady load between the two readings")
    parser.add_argument("--rate", type=float, default=200.0, help="readings/s")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from bench.run import BenchSettings

    settings = BenchSettings()
    env = {**settings.service_env(), "COLDCHAIN_MQTT_ADMIN_URL": settings.publisher_url}
    memory = measure(env, args.minutes, args.rate)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "memory.json").write_text(json.dumps(memory, indent=2) + "\n", encoding="utf-8")
    report = markdown(memory)
    (args.output / "memory.md").write_text(report, encoding="utf-8")
    print(report)
    return 1 if memory["exited"] or memory["publisher_error"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
