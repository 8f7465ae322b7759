"""End to end: ingest and sink as real processes, a publisher process feeding them through
Mosquitto, and the readings counted where they end up, in TimescaleDB.

The bench's ingest has its own MQTT client id and shared-subscription group and its sink
its own consumer group (positioned at the log end first), so it neither takes from nor
replays anyone else's data on a shared stack; both are removed afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Protocol

import psycopg
from confluent_kafka.admin import AdminClient
from psycopg import sql

from bench.ceilings import SPAWN
from bench.children import stop_all, wait_for_log
from bench.loadgen import PublishPlan, PublishResult, device_name, publish
from bench.procstat import ProcessSampler, stack_pids
from schemas.topics import DEADLETTER, READINGS
from services.ingest.session import end_session
from services.kafka.groups import commit_log_end
from services.kafka.topics import ensure_topics


class Measured(Protocol):
    """What ``sustained_throughput`` measures: services with pids, storing into ``table``."""

    @property
    def services(self) -> tuple[str, ...]: ...

    @property
    def table(self) -> str:  # where the readings end up: ``schema.table``, or a table on the search path
        ...

    def pid(self, name: str) -> list[int]: ...


@dataclass
class BenchPipeline:
    """ingest + sink started as ``coldchain run ingest|sink`` would start them."""

    services: ClassVar[tuple[str, ...]] = ("ingest", "sink")
    table: ClassVar[str] = "readings"

    env: dict[str, str]
    run_id: str
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def client_id(self) -> str:
        return f"bench-ingest-{self.run_id}"

    @property
    def sink_group(self) -> str:
        return f"bench-sink-{self.run_id}"

    def service_env(self) -> dict[str, str]:
        return {**os.environ, **self.env,
                "COLDCHAIN_INGEST_CLIENT_ID": self.client_id,
                "COLDCHAIN_INGEST_SHARE_GROUP": f"bench-{self.run_id}",
                "COLDCHAIN_SINK_GROUP_ID": self.sink_group,
                "COLDCHAIN_INGEST_METRICS_PORT": "0",
                "COLDCHAIN_SINK_METRICS_PORT": "0"}

    def start(self) -> None:
        kafka = {"bootstrap.servers": self.env["COLDCHAIN_KAFKA_BOOTSTRAP"]}
        ensure_topics(kafka)
        commit_log_end(kafka, self.sink_group, [READINGS.name, DEADLETTER.name])
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in ("sink", "ingest"):
            log = (self.log_dir / f"{name}.log").open("wb")
            self.processes[name] = subprocess.Popen([sys.executable, "-m", f"services.{name}.main"],
                                                    env=self.service_env(), stdout=log, stderr=subprocess.STDOUT)
        self._wait_for_log("ingest", "subscribed to", 60)

    def pid(self, name: str) -> list[int]:
        process = self.processes.get(name)
        return [process.pid] if process is not None and process.poll() is None else []

    def _wait_for_log(self, name: str, text: str, timeout_s: float) -> None:
        wait_for_log(name, self.processes[name], self.log_dir / f"{name}.log", text, timeout_s)

    def stop(self) -> None:
        stop_all(self.processes.values())
        end_session(self.env["COLDCHAIN_MQTT_URL"], self.client_id)
        admin = AdminClient({"bootstrap.servers": self.env["COLDCHAIN_KAFKA_BOOTSTRAP"]})
        for future in admin.delete_consumer_groups([self.sink_group], request_timeout=10).values():
            try:
                future.result()
            except Exception as exc:  # a leftover empty group is harmless; say so and go on
                print(f"note: consumer group {self.sink_group} not deleted: {exc}", file=sys.stderr)

@dataclass(frozen=True)
class Throughput:
    label: str
    readings: int
    messages: int
    stored: int
    seconds: float
    publish_seconds: float
    cpu_pct: dict[str, float]
    machine_busy_pct: float
    rss_mb: dict[str, dict[str, float]]

    @property
    def rate(self) -> float:
        return self.stored / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "readings": self.readings, "messages": self.messages, "stored": self.stored,
                "seconds": round(self.seconds, 3), "readings_per_s": round(self.rate),
                "publish_seconds": round(self.publish_seconds, 3), "cpu_pct": self.cpu_pct,
                "machine_busy_pct": round(self.machine_busy_pct, 1), "rss_mb": self.rss_mb}


def run_publisher(plan: PublishPlan) -> PublishResult:
    results = SPAWN.Queue()
    process = SPAWN.Process(target=publish, args=(plan, results))
    process.start()
    outcome: PublishResult = results.get(timeout=600)
    process.join(10)
    if outcome.error:
        raise RuntimeError(f"publisher: {outcome.error}")
    return outcome


def sustained_throughput(pipeline: Measured, dsn: str, stack_root: Path, label: str, plan: PublishPlan,
                         timeout_s: float = 240) -> Throughput:
    """Publish ``plan`` from a separate process; time from its first publish until the last
    of its readings is in TimescaleDB (the last row's ``stored_at``), sampling CPU and RSS."""
    devices = [device_name(plan.device_prefix, d) for d in range(plan.devices)]
    results = SPAWN.Queue()
    publisher = SPAWN.Process(target=publish, args=(plan, results))
    sampler = _sampler(pipeline, stack_root, publisher)
    sampler.start()
    publisher.start()
    outcome: PublishResult = results.get(timeout=600)
    publisher.join(10)
    if outcome.error:
        sampler.stop()
        raise RuntimeError(f"publisher: {outcome.error}")
    stored, last_stored = wait_stored(dsn, devices, plan.readings, outcome.first_publish + timeout_s,
                                       pipeline.table)
    sampler.stop()
    end = last_stored if stored >= plan.readings else time.time()
    return Throughput(
        label=label, readings=plan.readings, messages=plan.messages, stored=stored,
        seconds=end - outcome.first_publish, publish_seconds=outcome.all_acked - outcome.first_publish,
        cpu_pct=sampler.cpu_pct(), machine_busy_pct=sampler.machine_busy_pct(),
        rss_mb={name: {"median": round(u.rss_median_mb, 1), "max": round(u.rss_max_mb, 1)}
                for name, u in sampler.usage.items() if name in pipeline.services},
    )


def _sampler(pipeline: Measured, stack_root: Path, publisher: Any) -> ProcessSampler:
    servers = stack_pids(stack_root)
    groups: dict[str, Callable[[], list[int]]] = {
        name: lambda name=name: pipeline.pid(name) for name in pipeline.services}  # type: ignore[misc]
    groups["publisher"] = lambda: [publisher.pid] if publisher.pid and publisher.is_alive() else []
    for name, pids in servers.items():
        groups[name] = lambda pids=pids: pids  # type: ignore[misc]
    return ProcessSampler(groups, with_children=frozenset({"postgres"}))


def wait_stored(dsn: str, devices: list[str], expected: int, deadline: float,
                 table: str = BenchPipeline.table) -> tuple[int, float]:
    """(rows stored for ``devices`` in ``table``, epoch seconds of the last row's ``stored_at``)."""
    stored, last = 0, 0.0
    query = sql.SQL("SELECT count(*), extract(epoch FROM max(stored_at)) FROM {} "
                    "WHERE device_id = ANY(%s) AND time > now() - interval '3 days'").format(
        sql.Identifier(*table.split(".")))
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            row = conn.execute(query, [devices]).fetchone()
            stored, last = (int(row[0]), float(row[1] or 0.0)) if row else (0, 0.0)
            if stored >= expected or time.time() > deadline:
                return stored, last
            time.sleep(0.5)


@dataclass(frozen=True)
class Latency:
    readings: int
    rate: float
    stored: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    to_ingest_p50_ms: float
    to_ingest_p99_ms: float
    ingest_to_row_p50_ms: float
    ingest_to_row_p99_ms: float
    samples_ms: list[float]

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in self.__dict__.items()
                if k != "samples_ms"}


def latency(admin_url: str, dsn: str, run_id: str, readings: int, rate: float, devices: int = 10) -> Latency:
    """Single readings at a modest rate, each stamped ``ts`` = its publish time: the row's
    ``stored_at - time`` is publish -> row (``stored_at`` is the sink transaction's start,
    so it leaves out the commit itself, a millisecond or two)."""
    prefix = f"BENCH-{run_id}-LAT-"
    plan = PublishPlan(admin_url, prefix, devices=devices, per_device=readings // devices, rate=rate,
                       live_ts=True, max_inflight=100)
    outcome = run_publisher(plan)
    ids = [device_name(prefix, d) for d in range(devices)]
    stored, _ = wait_stored(dsn, ids, plan.readings, outcome.all_acked + 60)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM stored_at - time) * 1000, extract(epoch FROM received_at - time) * 1000, "
            "extract(epoch FROM stored_at - received_at) * 1000 FROM readings "
            "WHERE device_id = ANY(%s) AND time > now() - interval '1 day'", [ids]).fetchall()
    total = sorted(float(r[0]) for r in rows)
    to_ingest = sorted(float(r[1]) for r in rows)
    after_ingest = sorted(float(r[2]) for r in rows)
    return Latency(plan.readings, rate, stored, _pct(total, 50), _pct(total, 99), total[-1] if total else 0.0,
                   _pct(to_ingest, 50), _pct(to_ingest, 99), _pct(after_ingest, 50), _pct(after_ingest, 99), total)


def _pct(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, round(pct / 100 * (len(values) - 1)))]


def delete_bench_readings(dsn: str, device_like: str, oldest: datetime | None = None) -> int:
    """Deletes the bench readings of the devices matching ``device_like`` (not anyone's
    shipment history) stamped after ``oldest`` (default: 3 days ago; the bound spares the other
    chunks), then vacuums the table. Left to autovacuum, a landing's 9.6 million dead rows were
    vacuumed during the next section's measurement, PostgreSQL at up to half a core and each
    landing on the same stack slower than the one before (bench/HISTORY.md, session 16); the
    vacuum here takes ~15 s and is not measured."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        since = oldest or datetime.now(UTC) - timedelta(days=3)
        deleted = conn.execute("DELETE FROM readings WHERE device_id LIKE %s AND time > %s",
                               [device_like, since]).rowcount
        if deleted:
            conn.execute("VACUUM (ANALYZE) readings")
        return deleted
