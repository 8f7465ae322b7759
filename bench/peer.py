"""The peer, side by side: coldchain (ingest + sink) and Telegraf, on the same Mosquitto, the same
TimescaleDB and the same publisher, one at a time, alternating.

For each message shape (single samples, batches of 20) and each round, coldchain then Telegraf:
only that side runs (coldchain's bench ingest and sink are stopped while Telegraf is measured,
and Telegraf is stopped, its persistent session ended, while coldchain is), each round with
device ids of its own, each side warmed up with one reading first. A round's rate is its
readings over the time from the first publish to the last row's ``stored_at`` (its writing
transaction's start, on both sides), the rows counted by polling each side's own table.
Telegraf writes into a schema of its own (``peer_<run id>``), dropped afterwards; it never
touches coldchain's tables.

Telegraf reads with the local stack's load-generator account (``COLDCHAIN_MQTT_ADMIN_URL``,
which may read and write under ``coldchain/``): no account or ACL of the stack changes.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import fmean
from typing import Any

import psycopg
from psycopg import sql

from bench.loadgen import PublishPlan
from bench.pipeline import (
    BenchPipeline,
    Measured,
    delete_bench_readings,
    run_publisher,
    sustained_throughput,
    wait_stored,
)
from bench.telegraf import (
    BUILD_TAGS,
    DEVICE_TOPIC,
    VERSION,
    PeerTarget,
    TelegrafPeer,
    TelegrafSettings,
    ensure_telegraf,
    render_config,
)
from services.connections import parse_mqtt_url

SHAPES = (("single samples", 1), ("batches of 20", 20))
SIDES = ("coldchain", "telegraf")
DEVICES = 100


@dataclass(frozen=True)
class PeerRun:
    """Everything one peer section needs from the bench."""

    service_env: dict[str, str]  # coldchain's services' settings (BenchSettings.service_env)
    admin_url: str  # the publisher's account; Telegraf reads with it too
    dsn: str
    run_id: str
    stack_root: Path
    readings: int = 100_000  # per round
    rounds: int = 2
    telegraf: TelegrafSettings = TelegrafSettings()
    timeout_s: float = 600  # per round, from its first publish: a busy shared machine is slow

    @property
    def log_dir(self) -> Path:
        return self.stack_root / "logs" / "bench"

    @property
    def schema(self) -> str:
        return f"peer_{self.run_id}"

    def device_prefix(self, side: str, batch: int, round_no: int) -> str:
        return f"BENCH-{self.run_id}-PEER-{side[0].upper()}{batch}R{round_no}-"

    def telegraf_target(self, batch: int, round_no: int) -> PeerTarget:
        endpoint = parse_mqtt_url(self.admin_url)
        return PeerTarget(endpoint.host, endpoint.port, f"bench-telegraf-{self.run_id}-{batch}r{round_no}",
                          self.schema)


def measure(run: PeerRun) -> dict[str, Any]:
    """Build (or reuse) Telegraf, run every round, and return the section's results."""
    binary, build_s = ensure_telegraf(run.stack_root / "downloads" / "telegraf")
    print(f"   Telegraf {VERSION}: {binary}" + (f" (built in {build_s:.0f} s)" if build_s else " (cached)"), flush=True)
    base_ts = float(int(datetime.now(UTC).timestamp()) - 2 * 86400)
    per_device = max(1, run.readings // DEVICES)
    rounds: list[dict[str, Any]] = []
    with psycopg.connect(run.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(run.schema)))
    try:
        for label, batch in SHAPES:
            for round_no in range(1, run.rounds + 1):
                for side in SIDES:
                    runner: BenchPipeline | TelegrafPeer
                    if side == "coldchain":
                        runner = BenchPipeline(run.service_env, f"{run.run_id}-p{batch}r{round_no}", run.log_dir)
                    else:
                        runner = TelegrafPeer(binary, run.telegraf_target(batch, round_no), run.telegraf,
                                              run.admin_url, run.dsn, run.log_dir)
                    plan = PublishPlan(run.admin_url, run.device_prefix(side, batch, round_no), devices=DEVICES,
                                       per_device=per_device, batch=batch, base_ts=base_ts)
                    try:
                        result = _round(run, runner, label, plan, base_ts)
                    except Exception as exc:  # one failed round (a broker too busy to answer) keeps the others
                        error = f"{type(exc).__name__}: {exc}"
                        rounds.append({"side": side, "batch": batch, "round": round_no, "label": label,
                                       "error": error})
                        print(f"   {side} {label} round {round_no}: FAILED {error}", flush=True)
                        continue
                    rounds.append({"side": side, "batch": batch, "round": round_no, **result})
                    print(f"   {side} {label} round {round_no}: {result['stored']:,}/{result['readings']:,} in "
                          f"{result['seconds']:.2f} s = {result['readings_per_s']:,} readings/s; "
                          f"CPU % {result['cpu_pct']}", flush=True)
    finally:
        removed = _clean_up(run)
        print(f"   removed {removed:,} coldchain rows and schema {run.schema}", flush=True)
    return {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
            "readings_per_round": per_device * DEVICES, "devices": DEVICES, "rounds_per_side": run.rounds,
            "telegraf": {"version": VERSION, "build_tags": list(BUILD_TAGS), "build_seconds": round(build_s, 1),
                         "settings": run.telegraf.as_dict(),
                         "mqtt": f"QoS 1, persistent session, a client id of its own per round, {DEVICE_TOPIC} "
                                 "on the services listener, the load-generator account",
                         "config": render_config(run.telegraf_target(1, 1), run.telegraf)},
            "rounds": rounds, "summary": summarise(rounds)}


def _round(run: PeerRun, runner: BenchPipeline | TelegrafPeer, label: str, plan: PublishPlan,
           base_ts: float) -> dict[str, Any]:
    try:
        runner.start()  # inside: a side that fails to start is stopped all the same
        _warm_up(run, runner, plan, base_ts)
        return sustained_throughput(runner, run.dsn, run.stack_root, label, plan, run.timeout_s).as_dict()
    finally:
        runner.stop()


def _warm_up(run: PeerRun, runner: Measured, plan: PublishPlan, base_ts: float, tries: int = 10) -> None:
    """One reading through the side about to be measured, until it is stored: the subscription
    is in place, connections are open and Telegraf has made its table."""
    prefix = plan.device_prefix.replace("-PEER-", "-PEERWARM-")
    for attempt in range(tries):
        run_publisher(PublishPlan(run.admin_url, prefix, devices=1, per_device=1, base_ts=base_ts + attempt))
        stored, _ = wait_stored(run.dsn, [f"{prefix}0000"], 1, time.time() + 5, runner.table)
        if stored:
            return
    raise RuntimeError(f"the warm-up reading never reached {runner.table}")


def _clean_up(run: PeerRun) -> int:
    with psycopg.connect(run.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(run.schema)))
    return delete_bench_readings(run.dsn, f"BENCH-{run.run_id}-PEER%")


def ratio(coldchain: float, telegraf: float) -> float | None:
    """coldchain / Telegraf, to two decimals; None without a Telegraf figure."""
    return round(coldchain / telegraf, 2) if telegraf > 0 else None


def summarise(rounds: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per message shape: each side's rates by round, and the ratio coldchain / Telegraf of
    the best rounds and of the means. Failed rounds (with an ``error``) are left out."""
    rounds = [r for r in rounds if "error" not in r]
    shapes: dict[int, str] = {}
    for r in rounds:
        shapes.setdefault(r["batch"], r["label"])
    summary = []
    for batch, label in shapes.items():
        rates = {side: [r["readings_per_s"] for r in rounds if r["batch"] == batch and r["side"] == side]
                 for side in SIDES}
        complete = all(r["stored"] >= r["readings"] for r in rounds if r["batch"] == batch)
        best = {side: max(values, default=0) for side, values in rates.items()}
        mean = {side: fmean(values) if values else 0.0 for side, values in rates.items()}
        summary.append({"label": label, "batch": batch, **rates, "complete": complete,
                        "ratio_best": ratio(best["coldchain"], best["telegraf"]),
                        "ratio_mean": ratio(mean["coldchain"], mean["telegraf"])})
    return summary


def machine() -> str:
    """The CPU model, its cores and the memory, for the report."""
    model = ""
    try:
        info = {key.strip(): value.strip() for key, value in
                (line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().splitlines() if ":" in line)}
        # The name alone ("Intel(R) Xeon(R) Processor") is the same on machines twice as fast
        # as one another: family and model tell the generation.
        model = info.get("model name", "")
        if model and "cpu family" in info and "model" in info:
            model += f" (family {info['cpu family']}, model {info['model']})"
        kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
        memory = f", {kib / 1024 ** 2:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = ""
    return f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} cores{memory}"
