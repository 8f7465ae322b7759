"""The landing burst (issue 22): a freighter's trackers upload their whole flight at once.

A peak-season freighter from Halifax carries ~80 t of live lobster with a tracker in every
pallet or box: 8,000 trackers x 20 h x one sample a minute is 9.6 million readings, sent on
landing in messages of 100 samples. In a few shipments one tracker froze in flight (-3 C for
40 minutes, below live lobster's critical low): on the ground everyone needs to hear which.

Every service runs as a real process (api, ingest, sink, excursions, eta, alerts; the
harness of ``bench/alert_latency.py``), the SMTP server in this process. The publisher is a
process of its own. From its first publish the bench times

- **stored**: every reading in TimescaleDB (ingest accepted them all, the sink's group has
  no lag left, and the rows are counted once at the end);
- **scored**: the excursion processor's group has no lag left on ``coldchain.readings``
  (faust commits every few seconds: this is late by up to its commit interval);
- **alerted**: the last of the found-late critical alerts (seller and buyer of every frozen
  shipment) accepted by the SMTP server; alerts about any other shipment are counted as
  false alarms;

and samples every process's CPU and resident memory. It measures; it asserts nothing.
"""

from __future__ import annotations

import re
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiosmtpd.controller import Controller

from bench.alert_latency import AlertBench, SmtpStopwatch, _free_port, _shipment
from bench.ceilings import SPAWN
from bench.loadgen import PublishPlan, PublishResult, device_name, publish
from bench.procstat import ProcessSampler, stack_pids
from schemas.topics import READINGS
from services.api.tokens import create_token
from services.kafka.groups import group_lag

TARGET_S = 300.0  # the target: stored, scored and alerted within 5 minutes


@dataclass(frozen=True)
class LandingPlan:
    trackers: int = 8000
    hours: float = 20.0
    interval_s: float = 60.0
    batch: int = 100  # samples a message
    per_shipment: int = 100  # trackers a shipment
    frozen_shipments: int = 4  # in each, its first tracker froze in flight
    freeze_minutes: int = 40
    # One message in N of each tracker overtakes the one before (bench.loadgen.PublishPlan): a
    # landed backlog is not in order, and a late message costs the sink and the excursion
    # processor far more than one in order (re-linking, re-scoring). 0: all in order.
    overtaking_every: int = 4

    @property
    def per_tracker(self) -> int:
        return int(self.hours * 3600 / self.interval_s)

    @property
    def readings(self) -> int:
        return self.trackers * self.per_tracker

    def devices(self, prefix: str) -> list[str]:
        """The trackers' ids, as the publisher names them (``bench.loadgen.device_name``)."""
        return [device_name(prefix, n) for n in range(self.trackers)]

    @property
    def shipments(self) -> int:
        return -(-self.trackers // self.per_shipment)


@dataclass
class Stopwatch(SmtpStopwatch):
    """Every accepted email: (time, shipment id, recipients)."""

    emails: list[tuple[float, str, tuple[str, ...]]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        at = time.time()
        content = (envelope.original_content or b"").decode(errors="replace")
        found = re.search(r"^Subject: (.*(?:\r?\n[ \t].*)*)", content, re.MULTILINE)
        subject = " ".join(found.group(1).split()) if found else ""
        with self.lock:
            self.emails.append((at, subject.rsplit(" - ", 1)[-1], tuple(envelope.rcpt_tos)))
        return "250 Message accepted"


@dataclass(frozen=True)
class LandingResult:
    plan: LandingPlan
    published_s: float  # first publish -> the broker acknowledged the last message
    stored_s: float | None
    scored_s: float | None
    alerted_s: float | None  # the last found-late alert of a frozen shipment
    stored: int
    alerts_expected: int
    alerts_received: int
    false_alarms: int
    cpu_pct: dict[str, float]
    rss_max_mb: dict[str, float]
    machine_busy_pct: float
    # When the window ended: seconds since the first upload, and how many readings records
    # the sink and the excursion processor were still behind (-1: not measured).
    elapsed_s: float = 0.0
    sink_behind: int = -1
    excursions_behind: int = -1

    def as_dict(self) -> dict[str, Any]:
        # Stored per second over the time it took, or over the whole window when not all were.
        span = self.stored_s or self.elapsed_s
        rate = self.stored / span if span else 0.0
        return {"trackers": self.plan.trackers, "hours": self.plan.hours, "readings": self.plan.readings,
                "messages": self.plan.trackers * -(-self.plan.per_tracker // self.plan.batch),
                "batch": self.plan.batch, "shipments": self.plan.shipments,
                "frozen_shipments": self.plan.frozen_shipments, "overtaking_every": self.plan.overtaking_every,
                "published_s": round(self.published_s, 1),
                "stored_s": _round(self.stored_s), "scored_s": _round(self.scored_s),
                "alerted_s": _round(self.alerted_s), "stored": self.stored,
                "stored_per_s": round(rate), "alerts_expected": self.alerts_expected,
                "alerts_received": self.alerts_received, "false_alarms": self.false_alarms,
                "target_s": TARGET_S, "cpu_pct": self.cpu_pct, "rss_max_mb": self.rss_max_mb,
                "machine_busy_pct": round(self.machine_busy_pct, 1), "elapsed_s": round(self.elapsed_s, 1),
                "sink_behind_records": self.sink_behind, "excursions_behind_records": self.excursions_behind}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def run(env: dict[str, str], admin_url: str, dsn: str, run_id: str, log_dir: Path, stack_root: Path,
        plan: LandingPlan, say: Callable[[str], None] = print, timeout_s: float = 3600.0) -> LandingResult:
    bench = AlertBench(env, admin_url, dsn, run_id, log_dir, stopwatch=Stopwatch())
    stopwatch = bench.stopwatch
    assert isinstance(stopwatch, Stopwatch)
    smtp_port, api_port, metrics_port = _free_port(), _free_port(), _free_port()
    controller = Controller(stopwatch, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-landing-faust-") as faust_dir:
            bench.start(smtp_port, api_port, Path(faust_dir), ingest_metrics_port=metrics_port,
                        keep_quiet_hours=True)
            devices = plan.devices(f"{bench.prefix}L")
            groups = [devices[i:i + plan.per_shipment] for i in range(0, len(devices), plan.per_shipment)]
            landed = datetime.now(UTC).replace(second=0, microsecond=0)
            departed = landed - timedelta(hours=plan.hours)
            say(f"   registering {len(groups)} shipments of {plan.per_shipment} trackers")
            shipments = _register(bench, f"http://127.0.0.1:{api_port}", groups, departed)
            picked = [i * len(groups) // plan.frozen_shipments for i in range(plan.frozen_shipments)]
            frozen = {shipments[i]: groups[i][0] for i in picked}  # shipment -> its frozen tracker
            bench.wait_for_shipments_loaded(say)
            freeze_from = plan.per_tracker // 2  # mid-flight
            publish_plan = PublishPlan(admin_url, f"{bench.prefix}L", devices=plan.trackers,
                                       per_device=plan.per_tracker, batch=plan.batch,
                                       base_ts=departed.timestamp(), interval_s=plan.interval_s,
                                       frozen=frozenset(frozen.values()),
                                       freeze_seqs=(freeze_from, freeze_from + plan.freeze_minutes),
                                       overtaking_every=plan.overtaking_every)
            return _measure(bench, publish_plan, plan, frozen, stack_root, metrics_port, say, timeout_s)
    finally:
        bench.stop()
        controller.stop()
        bench.clean_up()


def _register(bench: AlertBench, api_url: str, groups: list[list[str]], departed: datetime) -> list[str]:
    token = create_token(bench.dsn, "ops", None)
    ids = []
    packed = departed - timedelta(hours=2)
    with httpx.Client(base_url=api_url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as http:
        for n, devices in enumerate(groups):
            shipment_id = f"{bench.prefix}LS{n:03d}"
            body = {**_shipment(shipment_id, devices[0], packed), "devices": devices}
            http.post("/api/v1/shipments", json=body).raise_for_status()
            ids.append(shipment_id)
    return ids


def _measure(bench: AlertBench, publish_plan: PublishPlan, plan: LandingPlan, frozen: dict[str, str],
             stack_root: Path, metrics_port: int, say: Callable[[str], None], timeout_s: float) -> LandingResult:
    kafka = bench.env["COLDCHAIN_KAFKA_BOOTSTRAP"]
    results = SPAWN.Queue()
    publisher = SPAWN.Process(target=publish, args=(publish_plan, results))
    groups: dict[str, Callable[[], list[int]]] = {name: _alive(process) for name, process in bench.processes.items()}
    groups["publisher"] = lambda: [publisher.pid] if publisher.pid and publisher.is_alive() else []
    for name, pids in stack_pids(stack_root).items():
        groups[name] = lambda pids=pids: pids  # type: ignore[misc]
    sampler = ProcessSampler(groups, with_children=frozenset({"postgres"}), interval_s=1.0)
    expected_alerts = {(shipment, role) for shipment in frozen for role in ("seller@bench.example",
                                                                              "buyer@bench.example")}
    sampler.start()
    publisher.start()
    outcome: PublishResult = results.get(timeout=timeout_s)
    publisher.join(10)
    if outcome.error:
        sampler.stop()
        raise RuntimeError(f"publisher: {outcome.error}")
    began = outcome.first_publish
    say(f"   published {outcome.messages:,} messages in {outcome.all_acked - began:.1f} s")
    stored_at = scored_at = alerted_at = None
    deadline = began + timeout_s
    last_said = 0.0
    while time.time() < deadline and (stored_at is None or scored_at is None or alerted_at is None):
        now = time.time()
        accepted = _ingest_accepted(metrics_port)
        ingested = accepted >= plan.readings
        if stored_at is None and ingested and group_lag(kafka, bench.names["sink"], READINGS.name) == 0:
            stored_at = now
        if scored_at is None and ingested and group_lag(kafka, bench.names["excursions"], READINGS.name) == 0:
            scored_at = now
        if alerted_at is None:
            told = _first_emails(stopwatch_of(bench), set(frozen))
            if expected_alerts <= set(told):
                alerted_at = max(told[key] for key in expected_alerts)
        if now - last_said > 15:
            behind = (group_lag(kafka, bench.names["sink"], READINGS.name),
                      group_lag(kafka, bench.names["excursions"], READINGS.name))
            say(f"   +{now - began:.0f} s: ingest accepted {accepted:,}/{plan.readings:,}; records behind: "
                f"sink {behind[0]:,}, excursions {behind[1]:,}; stored {'yes' if stored_at else 'no'}, "
                f"scored {'yes' if scored_at else 'no'}, alerted {'yes' if alerted_at else 'no'}")
            last_said = now
        time.sleep(0.5)
    sampler.stop()
    ended = time.time()
    behind = (group_lag(kafka, bench.names["sink"], READINGS.name),
              group_lag(kafka, bench.names["excursions"], READINGS.name))
    stored = _stored(bench.dsn, f"{bench.prefix}L%")
    told = _first_emails(stopwatch_of(bench), set(frozen))
    false_alarms = sum(1 for _, shipment, _ in stopwatch_of(bench).emails if shipment not in frozen)
    return LandingResult(
        plan=plan, published_s=outcome.all_acked - began,
        stored_s=stored_at - began if stored_at and stored >= plan.readings else None,
        scored_s=scored_at - began if scored_at else None,
        alerted_s=alerted_at - began if alerted_at else None, stored=stored,
        alerts_expected=len(expected_alerts), alerts_received=len(expected_alerts & set(told)),
        false_alarms=false_alarms,
        cpu_pct={name: round(usage.cpu_pct(sampler.wall_s)) for name, usage in sampler.usage.items()},
        rss_max_mb={name: round(usage.rss_max_mb) for name, usage in sampler.usage.items()},
        machine_busy_pct=sampler.machine_busy_pct(), elapsed_s=ended - began,
        sink_behind=behind[0], excursions_behind=behind[1])


def _alive(process: Any) -> Callable[[], list[int]]:
    return lambda: [process.pid] if process.poll() is None else []


def stopwatch_of(bench: AlertBench) -> Stopwatch:
    assert isinstance(bench.stopwatch, Stopwatch)
    return bench.stopwatch


def _first_emails(stopwatch: Stopwatch, shipments: set[str]) -> dict[tuple[str, str], float]:
    """(shipment, recipient) -> when the first email about that shipment reached them."""
    first: dict[tuple[str, str], float] = {}
    with stopwatch.lock:
        for at, shipment, recipients in stopwatch.emails:
            if shipment in shipments:
                for recipient in recipients:
                    first.setdefault((shipment, recipient), at)
    return first


def _ingest_accepted(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0
    found = re.search(r"^coldchain_ingest_readings_accepted_total (\S+)$", text, re.MULTILINE)
    return int(float(found.group(1))) if found else 0


def _stored(dsn: str, like: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM readings WHERE device_id LIKE %s"
                           " AND time > now() - interval '3 days'", [like]).fetchone()
    return int(row[0]) if row else 0
