"""`make bench`: raw ceilings, end-to-end throughput, the peer (Telegraf) side by side, latency,
memory and ETA accuracy.

Runs on the local stack (``coldchain stack run -- python -m bench.run``), writes
``bench/results/results.json``, ``results.md`` and PNG plots, and prints the figures.
It measures and reports; it asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devtools.stack.layout import default_root
from pydantic import SecretStr

from bench import alert_latency, eta_accuracy, landing, peer
from bench.ceilings import copy_ceiling, kafka_ceiling, mqtt_ceiling
from bench.loadgen import PublishPlan
from bench.memory import markdown as memory_markdown
from bench.memory import measure as measure_memory
from bench.pipeline import BenchPipeline, delete_bench_readings, latency, sustained_throughput
from bench.report import markdown, plots
from bench.telegraf import TelegrafSettings
from services.connections import DatabaseSettings, KafkaSettings, MqttSettings, settings_config

RESULTS = Path(__file__).resolve().parent / "results"


class BenchSettings(MqttSettings, KafkaSettings, DatabaseSettings):
    model_config = settings_config()

    mqtt_admin_url: SecretStr | None = None  # a publishing account (the local stack's admin)

    @property
    def publisher_url(self) -> str:
        if self.mqtt_admin_url is None:
            raise SystemExit("COLDCHAIN_MQTT_ADMIN_URL is not set: run inside `coldchain stack run --`")
        return self.mqtt_admin_url.get_secret_value()

    def service_env(self) -> dict[str, str]:
        return {"COLDCHAIN_MQTT_URL": self.mqtt_url.get_secret_value(),
                "COLDCHAIN_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
                "COLDCHAIN_KAFKA_CONFIG": self.kafka_config.get_secret_value(),
                "COLDCHAIN_DATABASE_URL": self.dsn}


def _machine() -> str:
    return f"{peer.machine()}, {platform.machine()}, Python {platform.python_version()}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="coldchain benchmarks")
    parser.add_argument("--readings", type=int, default=100_000, help="per end-to-end run")
    parser.add_argument("--latency-rate", type=float, default=200.0, help="readings/s in the latency run")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--minutes", type=float, default=10.0, help="of steady load in the memory run")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--alerts", type=int, default=60, help="alerts per alert-latency phase")
    parser.add_argument("--idle-minutes", type=float, default=10.0, help="idle time before the second phase")
    parser.add_argument("--landing-trackers", type=int, default=8000, help="trackers in the landing burst")
    parser.add_argument("--landing-hours", type=float, default=20.0, help="of backlog each tracker uploads")
    parser.add_argument("--landing-overtaking", type=int, default=landing.LandingPlan.overtaking_every, metavar="N",
                        help="one message in N of each tracker overtakes the one before (0: all in order)")
    parser.add_argument("--landing-timeout", type=float, default=3600.0, help="seconds before what is not done is "
                        "reported as not reached")
    parser.add_argument("--peer-readings", type=int, default=100_000, help="per round of the peer section")
    parser.add_argument("--peer-rounds", type=int, default=2, help="rounds per side and message shape (peer)")
    parser.add_argument("--telegraf", action="append", default=[], metavar="SETTING=VALUE",
                        help="a Telegraf setting of the peer section (bench/telegraf.py TelegrafSettings)")
    parser.add_argument("--only", nargs="+", metavar="SECTION", help="run only these sections (by name)")
    args = parser.parse_args(argv)
    settings = BenchSettings()
    run_id = secrets.token_hex(3)
    results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": _machine(),
                               "run_id": run_id, "ceilings": [], "end_to_end": [], "errors": []}
    args.output.mkdir(parents=True, exist_ok=True)

    def step(name: str, action: Callable[[], None]) -> None:
        if args.only and name not in args.only:
            return
        print(f"-- {name}", flush=True)
        try:
            action()
        except Exception as exc:  # one failed benchmark must not hide the others' figures
            traceback.print_exc()
            results["errors"].append(f"{name}: {type(exc).__name__}: {exc}")

    admin = settings.publisher_url
    kafka = settings.kafka_client_config()
    step("Mosquitto ceiling", lambda: results["ceilings"].append(
        mqtt_ceiling(admin, run_id, args.readings).as_dict()))
    step("Kafka producer ceiling", lambda: results["ceilings"].append(
        kafka_ceiling(kafka, run_id, 2 * args.readings).as_dict()))
    step("COPY ceiling", lambda: results["ceilings"].append(
        copy_ceiling(settings.dsn, run_id, args.readings).as_dict()))
    step("end to end", lambda: _end_to_end(settings, run_id, args, results))
    step("peer", lambda: _peer(settings, run_id, args, results))
    step("alert latency", lambda: _alert_latency(settings, run_id, args, results))
    step("landing", lambda: _landing(settings, run_id, args, results))
    step("ETA accuracy", lambda: _eta(args.output, results))
    step("memory", lambda: results.update(memory=measure_memory(
        {**settings.service_env(), "COLDCHAIN_MQTT_ADMIN_URL": admin}, args.minutes)))
    step("clean-up", lambda: print(f"removed {delete_bench_readings(settings.dsn, f'BENCH-{run_id}-%')} "
                                   "benchmark rows"))

    samples = results.pop("latency_samples_ms", [])
    if args.only:
        _keep_earlier_sections(args.output / "results.json", results)
    (args.output / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    made = plots({**results, "latency_samples_ms": samples}, args.output)
    report = markdown(results) + memory_markdown(results.get("memory"))
    (args.output / "results.md").write_text(report, encoding="utf-8")
    print(report)
    print(f"wrote {args.output / 'results.json'}, {args.output / 'results.md'}, "
          + ", ".join(p.name for p in made))
    for error in results["errors"]:
        print(f"FAILED {error}", file=sys.stderr)
    return 1 if results["errors"] else 0


def _end_to_end(settings: BenchSettings, run_id: str, args: argparse.Namespace, results: dict[str, Any]) -> None:
    stack_root = default_root()
    pipeline = BenchPipeline(settings.service_env(), run_id, stack_root / "logs" / "bench")
    admin = settings.publisher_url
    base_ts = float(int(datetime.now(UTC).timestamp()) - 2 * 86400)
    per_device = args.readings // 100
    pipeline.start()
    try:
        for label, batch in (("single samples", 1), ("batches of 20", 20)):
            plan = PublishPlan(admin, f"BENCH-{run_id}-E2E{batch}-", devices=100, per_device=per_device,
                               batch=batch, base_ts=base_ts)
            result = sustained_throughput(pipeline, settings.dsn, stack_root, label, plan)
            print(f"   {label}: {result.stored:,}/{result.readings:,} readings in {result.seconds:.2f} s = "
                  f"{result.rate:,.0f} readings/s; CPU % {result.cpu_pct}", flush=True)
            results["end_to_end"].append(result.as_dict())
        readings = int(args.latency_rate * args.latency_seconds)
        measured = latency(admin, settings.dsn, run_id, readings, args.latency_rate)
        print(f"   latency p50 {measured.p50_ms:.1f} ms, p99 {measured.p99_ms:.1f} ms", flush=True)
        results["latency"] = measured.as_dict()
        results["latency_samples_ms"] = measured.samples_ms
    finally:
        pipeline.stop()


def _peer(settings: BenchSettings, run_id: str, args: argparse.Namespace, results: dict[str, Any]) -> None:
    results["peer"] = peer.measure(peer.PeerRun(
        settings.service_env(), settings.publisher_url, settings.dsn, run_id, default_root(),
        readings=args.peer_readings, rounds=args.peer_rounds, telegraf=TelegrafSettings.parse(args.telegraf)))
    results["errors"] += [f"peer: {r['side']}, {r['label']}, round {r['round']}: {r['error']}"
                          for r in results["peer"]["rounds"] if "error" in r]


def _keep_earlier_sections(path: Path, results: dict[str, Any]) -> None:
    """A partial run (``--only``) keeps the figures of the sections it did not run."""
    if not path.exists():
        return
    earlier = json.loads(path.read_text(encoding="utf-8"))
    kept = [key for key, value in earlier.items()
            if key not in ("errors", "when", "run_id", "earlier_sections") and value and not results.get(key)]
    for key in kept:
        results[key] = earlier[key]
    if kept:
        results["earlier_sections"] = {"when": earlier.get("when"), "keys": kept}


def _alert_latency(settings: BenchSettings, run_id: str, args: argparse.Namespace,
                   results: dict[str, Any]) -> None:
    phases = alert_latency.run(settings.service_env(), settings.publisher_url, settings.dsn, run_id,
                               default_root() / "logs" / "bench", alerts=args.alerts, idle_minutes=args.idle_minutes)
    for phase in phases:
        print(f"   alert {phase.label}: p50 {phase.p50_ms:.0f} ms, p99 {phase.p99_ms:.0f} ms "
              f"({phase.received}/{phase.alerts} alerts); p50/p99 publish->ingest {phase.to_ingest_ms}, "
              f"ingest->excursion event {phase.ingest_to_excursion_ms}, "
              f"event->alert stored {phase.excursion_to_alert_ms}, stored->SMTP {phase.alert_to_smtp_ms} ms",
              flush=True)
    results["alert_latency"] = [phase.as_dict() for phase in phases]


def _landing(settings: BenchSettings, run_id: str, args: argparse.Namespace, results: dict[str, Any]) -> None:
    plan = landing.LandingPlan(trackers=args.landing_trackers, hours=args.landing_hours,
                                overtaking_every=args.landing_overtaking)
    print(f"   {plan.trackers:,} trackers x {plan.hours:g} h = {plan.readings:,} readings", flush=True)
    measured = landing.run(settings.service_env(), settings.publisher_url, settings.dsn, run_id,
                           default_root() / "logs" / "bench", default_root(), plan, timeout_s=args.landing_timeout)
    results["landing"] = measured.as_dict()
    print(f"   landing: stored {measured.stored_s} s, scored {measured.scored_s} s, "
          f"alerted {measured.alerted_s} s; peak MB {measured.rss_max_mb}", flush=True)


def _eta(folder: Path, results: dict[str, Any]) -> None:
    output = folder / "eta_accuracy.json"
    eta_accuracy.main(["--output", str(output)])
    results["eta_accuracy"] = json.loads(output.read_text(encoding="utf-8"))


if __name__ == "__main__":
    raise SystemExit(main())
