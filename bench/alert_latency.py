"""Alert latency: a tracker's MQTT publish of the offending reading -> the SMTP server
accepting the alert email, through the whole pipeline.

Every service runs as a real process (api, ingest, sink, excursions, eta, alerts), the
SMTP server (aiosmtpd) in this process, so both ends are stamped by one clock. Each alert
is a shipment of its own whose tracker reports 11 C (above the live-lobster critical
limit of 10 C) six minutes ago and again now, in device time: the second reading
completes the 5-minute critical delay and opens a critical excursion, so it is *the*
offending reading and its publish starts the clock. The clock stops when the SMTP server
has accepted the seller's email (and, separately reported, the buyer's too).

Two phases: (a) while a background publisher (another process) sends 1,000 readings/s
from 1,000 other trackers, each bound to a shipment of its own (one reading a second each:
already far more often than a real tracker reports; 100 trackers at 10 readings/s each
made the excursion processor fall minutes behind, as its per-shipment state, written to
its changelog on every reading, grows with each tracker's readings); (b) after the pipeline has been left idle for
``idle_minutes`` (faust pipelines have been reported slow on the first event after a
long idle, faust-streaming#306). The first alert after the idle period is reported on
its own as well.

Everything runs under the benchmark's own names: consumer groups and faust app ids
positioned at the log end first, an outbox in a private schema, ``BENCH-<run>-`` ids;
all but the shipments are removed afterwards.
"""

from __future__ import annotations

import email.parser
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import psycopg
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from paho.mqtt.enums import CallbackAPIVersion
from psycopg.conninfo import make_conninfo
from psycopg.sql import SQL, Identifier

from bench.ceilings import SPAWN
from bench.children import stop_all, wait_for_log
from bench.loadgen import PublishPlan, device_name, publish
from bench.pipeline import delete_bench_readings
from schemas.topics import ETA, EXCURSIONS, READINGS, SHIPMENTS
from services.api.tokens import create_token
from services.connections import parse_mqtt_url
from services.db.roles import on_one_database
from services.ingest.session import end_session
from services.kafka.groups import commit_log_end, group_lag
from services.kafka.topics import ensure_topics

CRITICAL_C = 11.0  # above live-lobster's 10 C critical limit
CRITICAL_DELAY_S = 5 * 60  # live-lobster's critical alarm delay
SUBJECT_MARK = "Temperature high started"


@dataclass
class SmtpStopwatch:
    """aiosmtpd handler: the time each alert email was accepted, by shipment id."""

    accepted: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        at = time.time()
        headers = email.parser.BytesHeaderParser().parsebytes(envelope.original_content or b"")
        subject = " ".join(str(headers.get("Subject", "")).split())
        if SUBJECT_MARK in subject:
            shipment_id = subject.rsplit(" - ", 1)[-1]
            with self.lock:
                self.accepted.setdefault(shipment_id, []).append(at)
        return "250 Message accepted"

    def times(self, shipment_id: str) -> list[float]:
        with self.lock:
            return sorted(self.accepted.get(shipment_id, []))


@dataclass(frozen=True)
class PhaseLatency:
    label: str
    alerts: int
    received: int
    background_readings_per_s: float  # measured: background readings of the phase's window stored
    p50_ms: float
    p99_ms: float
    max_ms: float
    both_p50_ms: float  # until the second recipient's email was accepted too
    both_p99_ms: float
    first_ms: float  # the phase's first alert
    # Where the time went (p50 / p99 over the alerts): publish -> ingest received it,
    # ingest -> the excursion processor produced the "opened" event (its Kafka timestamp),
    # that -> the alert service stored the alert (the alert consumer and the outbox),
    # stored -> SMTP accepted (the dispatcher and the SMTP exchange).
    to_ingest_ms: tuple[float, float]
    ingest_to_excursion_ms: tuple[float, float]
    excursion_to_alert_ms: tuple[float, float]
    alert_to_smtp_ms: tuple[float, float]
    samples_ms: list[float]

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in self.__dict__.items()
                if k != "samples_ms"}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


@dataclass
class AlertBench:
    env: dict[str, str]  # the stack's COLDCHAIN_* settings
    admin_url: str  # an MQTT account that may publish for any device
    dsn: str
    run_id: str
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    stopwatch: SmtpStopwatch = field(default_factory=SmtpStopwatch)

    @property
    def prefix(self) -> str:
        return f"BENCH-{self.run_id}-"

    @property
    def schema(self) -> str:
        return f"bench_alerts_{self.run_id.lower()}"

    @property
    def names(self) -> dict[str, str]:
        return {"excursions": f"bench-excursions-{self.run_id}", "eta": f"bench-eta-{self.run_id}",
                "alerts": f"bench-alerts-{self.run_id}", "sink": f"bench-alert-sink-{self.run_id}",
                "ingest": f"bench-alert-ingest-{self.run_id}"}

    # --- set-up and tear-down --------------------------------------------------------

    def start(self, smtp_port: int, api_port: int, faust_dir: Path, ingest_metrics_port: int = 0,
              keep_quiet_hours: bool = False) -> None:
        """Every service, under the bench's names. Quiet hours are off unless kept (a latency
        figure must not depend on the time of day it was measured at)."""
        kafka = {"bootstrap.servers": self.env["COLDCHAIN_KAFKA_BOOTSTRAP"]}
        ensure_topics(kafka)
        names = self.names
        for group, topics in ((names["excursions"], [READINGS.name]), (names["eta"], [READINGS.name]),
                              (names["sink"], [READINGS.name]), (names["alerts"], [EXCURSIONS.name, ETA.name])):
            commit_log_end(kafka, group, topics)
        outbox = self._create_outbox_schema()
        common = {**os.environ, **self.env, "COLDCHAIN_INGEST_METRICS_PORT": "0", "COLDCHAIN_SINK_METRICS_PORT": "0"}
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._spawn("api", "services.api.main", {**common, "COLDCHAIN_HTTP_PORT": str(api_port)})
        self._spawn("sink", "services.sink.main", {**common, "COLDCHAIN_SINK_GROUP_ID": names["sink"]})
        self._spawn("ingest", "services.ingest.main", {**common, "COLDCHAIN_INGEST_CLIENT_ID": names["ingest"],
                                                       "COLDCHAIN_INGEST_SHARE_GROUP": names["ingest"],
                                                       "COLDCHAIN_INGEST_METRICS_PORT": str(ingest_metrics_port)})
        self._spawn("excursions", "services.excursions.main", {
            **common, "COLDCHAIN_EXCURSIONS_APP_ID": names["excursions"],
            "COLDCHAIN_EXCURSIONS_DATA_DIR": str(faust_dir / "excursions")})
        self._spawn("eta", "services.eta.app", {
            **common, "COLDCHAIN_ETA_APP_ID": names["eta"], "COLDCHAIN_ETA_DATA_DIR": str(faust_dir / "eta")})
        self._spawn("alerts", "services.alerts.main", {
            **common, **on_one_database(outbox),
            "COLDCHAIN_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "COLDCHAIN_SMTP_FROM": "bench@coldchain.test",
            "COLDCHAIN_ALERT_GROUP_ID": names["alerts"],
            "COLDCHAIN_ALERT_ROUTES": json.dumps([{"role": r, "channel": "email", "min_severity": "warning"}
                                                  for r in ("seller", "buyer")]),
            **({} if keep_quiet_hours else {"COLDCHAIN_ALERT_QUIET_CHANNELS": "[]"})})
        self._wait_for_log("api", "Uvicorn running on", 180)
        self._wait_for_log("ingest", "subscribed to", 60)
        self._wait_for_log("alerts", "partitions assigned: coldchain", 60)
        for name in ("excursions", "eta"):
            self._wait_for_log(name, "ready", 120)

    def wait_for_shipments_loaded(self, say: Callable[[str], None], timeout_s: float = 900.0) -> None:
        """Until both processors have read the whole shipments topic: on a long-lived stack it
        holds every earlier run's shipments, and loading them is start-up work, not latency."""
        kafka = self.env["COLDCHAIN_KAFKA_BOOTSTRAP"]
        deadline = time.monotonic() + timeout_s
        while (lag := sum(group_lag(kafka, self.names[n], SHIPMENTS.name) for n in ("excursions", "eta"))) > 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the processors are still {lag:,} shipment records behind")
            say(f"   processors loading shipments: {lag:,} records to go")
            time.sleep(10)

    def _wait_for_log(self, name: str, text: str, timeout_s: float) -> None:
        wait_for_log(name, self.processes[name], self.log_dir / f"alert-{name}.log", text, timeout_s)

    def stop(self) -> None:
        stop_all(self.processes.values())
        end_session(self.env["COLDCHAIN_MQTT_URL"], self.names["ingest"])

    def clean_up(self) -> None:
        """Bench rows, groups, faust topics and the outbox schema. The bench shipments stay
        registered: their readings stay in ``coldchain.readings``, and a processor that reads
        them later (another app id) must not meet events of shipments that vanished."""
        like = f"{self.prefix}%"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            for table in ("excursions", "eta"):
                conn.execute(SQL("DELETE FROM {} WHERE shipment_id LIKE %s").format(Identifier(table)), [like])
            conn.execute(SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(Identifier(self.schema)))
        delete_bench_readings(self.dsn, like)
        kafka: dict[str, Any] = {"bootstrap.servers": self.env["COLDCHAIN_KAFKA_BOOTSTRAP"]}
        admin = AdminClient(kafka)
        names = self.names
        internal = [t for t in admin.list_topics(timeout=10).topics
                    if t.startswith((names["excursions"], names["eta"]))]
        for futures in (admin.delete_consumer_groups([names[k] for k in ("excursions", "eta", "alerts", "sink")],
                                                     request_timeout=10).values(),
                        admin.delete_topics(internal, operation_timeout=10).values() if internal else []):
            for future in futures:
                try:
                    future.result()
                except Exception as exc:  # a leftover is harmless; say so and go on
                    print(f"note: {exc}", file=sys.stderr)

    def _create_outbox_schema(self) -> str:
        """The outbox tables (migrations 03xx) in a schema of the bench's own; shipments come
        from ``public`` through the search path."""
        folder = resources.files("services.db") / "migrations"
        sql = "\n".join(f.read_text() for f in sorted(folder.iterdir(), key=lambda f: f.name)
                        if f.name.startswith("03") and f.name.endswith(".sql"))
        schema = Identifier(self.schema)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(SQL("CREATE SCHEMA {}").format(schema))
            conn.execute(SQL("CREATE TABLE {}.schema_migrations AS TABLE public.schema_migrations").format(schema))
            conn.execute(SQL("SET search_path TO {}").format(schema))
            conn.execute(sql.encode())
        return make_conninfo(self.dsn, options=f"-c search_path={self.schema},public")

    def _spawn(self, name: str, module: str, env: dict[str, str]) -> None:
        log = (self.log_dir / f"alert-{name}.log").open("wb")
        self.processes[name] = subprocess.Popen([sys.executable, "-m", module], env=env, stdout=log,
                                                stderr=subprocess.STDOUT)

    # --- shipments and measurement ---------------------------------------------------

    def stored_rate(self, devices_like: str, began: float, ended: float) -> float:
        """Readings/s stamped (device time) within [began, ended] that reached TimescaleDB."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM readings WHERE device_id LIKE %s AND time >= to_timestamp(%s)"
                               " AND time <= to_timestamp(%s)", [devices_like, began, ended]).fetchone()
        return (int(row[0]) if row else 0) / max(ended - began, 1e-9)

    def register(self, api_url: str, devices: list[str]) -> list[str]:
        """One shipment per device (``BENCH-<run>-S-<device>``); returns the shipment ids."""
        token = create_token(self.dsn, "ops", None)
        packed = datetime.now(UTC) - timedelta(hours=2)
        ids = []
        with httpx.Client(base_url=api_url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
            for device in devices:
                shipment_id = f"{self.prefix}S-{device.removeprefix(self.prefix)}"
                response = http.post("/api/v1/shipments", json=_shipment(shipment_id, device, packed))
                response.raise_for_status()
                ids.append(shipment_id)
        return ids

    def measure(self, label: str, publisher: mqtt.Client, devices: list[str], shipments: list[str],
                background_rate: float, pace_s: float = 1.0, timeout_s: float = 60.0) -> PhaseLatency:
        """One alert per device, one every ``pace_s`` (each shipment's own first excursion),
        whether or not the one before has arrived; then up to ``timeout_s`` for stragglers."""
        published_at: list[float] = []
        for n, device in enumerate(devices):
            if (wait := (published_at[0] + n * pace_s if published_at else 0) - time.time()) > 0:
                time.sleep(wait)
            topic = f"coldchain/v1/devices/{device}/telemetry"
            publisher.publish(topic, _reading(device, time.time() - CRITICAL_DELAY_S - 60), qos=1)
            published = round(time.time(), 3)  # as it goes in the payload, so the row's time matches
            publisher.publish(topic, _reading(device, published), qos=1)  # the offending reading
            published_at.append(published)
        deadline = time.time() + timeout_s
        while time.time() < deadline and any(len(self.stopwatch.times(s)) < 2 for s in shipments):
            time.sleep(0.05)
        first_ms: list[float] = []
        both_ms: list[float] = []
        timings: list[tuple[str, str, float, float]] = []  # device, shipment, published, accepted
        for device, shipment_id, published in zip(devices, shipments, published_at, strict=True):
            accepted = self.stopwatch.times(shipment_id)
            if accepted:
                first_ms.append((accepted[0] - published) * 1000)
                timings.append((device, shipment_id, published, accepted[0]))
            if len(accepted) >= 2:
                both_ms.append((accepted[1] - published) * 1000)
        hops = self._hops(timings, self.opened_at(set(shipments), published_at[0] - 60))
        return PhaseLatency(
            label=label, alerts=len(devices), received=len(first_ms), background_readings_per_s=background_rate,
            p50_ms=percentile(first_ms, 50), p99_ms=percentile(first_ms, 99), max_ms=max(first_ms, default=0.0),
            both_p50_ms=percentile(both_ms, 50), both_p99_ms=percentile(both_ms, 99),
            first_ms=next(((t[3] - t[2]) * 1000 for t in timings if t[0] == devices[0]), 0.0),
            to_ingest_ms=_p50_p99([h[0] for h in hops]), ingest_to_excursion_ms=_p50_p99([h[1] for h in hops]),
            excursion_to_alert_ms=_p50_p99([h[2] for h in hops]), alert_to_smtp_ms=_p50_p99([h[3] for h in hops]),
            samples_ms=first_ms)

    def opened_at(self, shipments: set[str], since: float) -> dict[str, float]:
        """When the excursion processor produced each shipment's critical "opened" event:
        the record's Kafka timestamp, read back from ``coldchain.excursions``."""
        consumer = Consumer({"bootstrap.servers": self.env["COLDCHAIN_KAFKA_BOOTSTRAP"],
                             "group.id": f"bench-probe-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False})
        try:
            numbers = consumer.list_topics(EXCURSIONS.name, timeout=10).topics[EXCURSIONS.name].partitions
            wanted = [TopicPartition(EXCURSIONS.name, n, int(since * 1000)) for n in numbers]
            starts = [tp for tp in consumer.offsets_for_times(wanted, timeout=10) if tp.offset >= 0]
            ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in starts}
            consumer.assign(starts)
            pending = {tp.partition for tp in starts if tp.offset < ends[tp.partition]}
            found: dict[str, float] = {}
            deadline = time.monotonic() + 60
            while pending and time.monotonic() < deadline:
                message = consumer.poll(1.0)
                if message is None or message.error():
                    continue
                partition, offset = message.partition() or 0, message.offset() or 0
                if offset + 1 >= ends[partition]:
                    pending.discard(partition)
                event = json.loads(message.value() or b"null") or {}
                if (event.get("shipment_id") in shipments and event.get("step") == "opened"
                        and event.get("kind") == "temp_high"):
                    found.setdefault(event["shipment_id"], message.timestamp()[1] / 1000)
            return found
        finally:
            consumer.close()

    def _hops(self, timings: list[tuple[str, str, float, float]],
              opened: dict[str, float]) -> list[tuple[float, float, float, float]]:
        """Per alert: (publish -> ingest, ingest -> excursion event, excursion event -> alert
        stored, alert stored -> SMTP), ms. The reading's ``received_at``, the event's Kafka
        timestamp (set by the producer) and the alert's ``raised_at`` are stamped by the
        services on the same machine's clock."""
        hops = []
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            for device, shipment_id, published, accepted in timings:
                received = conn.execute(
                    "SELECT extract(epoch FROM received_at) FROM readings WHERE device_id = %s"
                    " AND time = to_timestamp(%s)", [device, published]).fetchone()
                raised = conn.execute(
                    SQL("SELECT extract(epoch FROM raised_at) FROM {}.alerts WHERE shipment_id = %s"
                        " AND kind = 'temp_high' AND step = 'opened'").format(Identifier(self.schema)),
                    [shipment_id]).fetchone()
                if received and raised and shipment_id in opened:
                    at_ingest, at_event, at_alert = float(received[0]), opened[shipment_id], float(raised[0])
                    hops.append(((at_ingest - published) * 1000, (at_event - at_ingest) * 1000,
                                 (at_alert - at_event) * 1000, (accepted - at_alert) * 1000))
        return hops


def _p50_p99(values: list[float]) -> tuple[float, float]:
    return round(percentile(values, 50), 1), round(percentile(values, 99), 1)


WARMUP_S = 60.0  # background load before the under-load alerts are measured


def _shipment(shipment_id: str, device: str, packed: datetime) -> dict[str, Any]:
    return {
        "id": shipment_id, "product": "live-lobster", "devices": [device],
        "origin": {"name": "Halifax Stanfield (YHZ)", "lat": 44.8808, "lon": -63.5086},
        "waypoints": [{"name": "Shanghai Pudong (PVG)", "lat": 31.1443, "lon": 121.8083, "mode": "air"}],
        "destination": {"name": "Hangzhou buyer warehouse", "lat": 30.2741, "lon": 120.1551, "mode": "road"},
        "packed_at": packed.isoformat(), "deliver_by": (packed + timedelta(hours=48)).isoformat(),
        "seller": {"name": "Bench Seller", "email": "seller@bench.example", "phone": "+19025550100"},
        "buyer": {"name": "Bench Buyer", "email": "buyer@bench.example", "phone": "+8657155500100"},
    }


def _reading(device: str, ts: float) -> str:
    return json.dumps({"device_id": device, "ts": round(ts, 3), "temp_c": CRITICAL_C, "humidity_pct": 90.0})


def _publisher(url: str) -> mqtt.Client:
    endpoint = parse_mqtt_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-alert-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv311)
    if endpoint.username:
        client.username_pw_set(endpoint.username, endpoint.password)
    client.on_socket_open = _no_delay
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    if not connected.wait(15):
        raise RuntimeError("no CONNACK from the broker")
    return client


def _no_delay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(env: dict[str, str], admin_url: str, dsn: str, run_id: str, log_dir: Path, alerts: int = 60,
        idle_minutes: float = 10.0, background_rate: float = 1000.0, background_devices: int = 1000,
        say: Callable[[str], None] = print) -> list[PhaseLatency]:
    """Both phases; returns their figures (the caller writes them down)."""
    bench = AlertBench(env, admin_url, dsn, run_id, log_dir)
    smtp_port, api_port = _free_port(), _free_port()
    controller = Controller(bench.stopwatch, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    phases: list[PhaseLatency] = []
    background: Any = None
    publisher: mqtt.Client | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-faust-") as faust_dir:
            bench.start(smtp_port, api_port, Path(faust_dir))
            api_url = f"http://127.0.0.1:{api_port}"
            loaded = [device_name(f"{bench.prefix}BG", d) for d in range(background_devices)]
            measured = {phase: [f"{bench.prefix}{phase}{i:03d}" for i in range(alerts)] for phase in ("LA", "IA")}
            say(f"   registering {len(loaded) + 2 * alerts} shipments")
            bench.register(api_url, loaded)
            shipments = {phase: bench.register(api_url, devices) for phase, devices in measured.items()}
            bench.wait_for_shipments_loaded(say)
            publisher = _publisher(admin_url)

            seconds = 3600.0  # far more than needed: it is stopped once the phase is measured
            plan = PublishPlan(admin_url, f"{bench.prefix}BG", devices=background_devices,
                               per_device=int(background_rate * seconds / background_devices), rate=background_rate,
                               live_ts=True, max_inflight=100)
            outcome = SPAWN.Queue()  # held here: the child unpickles it after start()
            background = SPAWN.Process(target=publish, args=(plan, outcome), daemon=True)
            background.start()
            # The background load reaches every service, and their first steps over 1,000 new
            # shipments are done, before measuring: with 15 s the under-load figure moved by an
            # order of magnitude between runs (bench/HISTORY.md, session 9).
            time.sleep(WARMUP_S)
            say(f"   (a) {alerts} alerts under {background_rate:,.0f} readings/s")
            began = time.time()
            under_load = bench.measure("under load", publisher, measured["LA"], shipments["LA"], background_rate)
            ended = time.time()
            if not background.is_alive():
                raise RuntimeError(f"the background publisher stopped early: {outcome.get(timeout=5)}")
            background.terminate()
            background.join(10)
            background = None
            time.sleep(5)  # the sink stores what was in flight
            stored = bench.stored_rate(f"{bench.prefix}BG%", began, ended)
            say(f"   background readings stored during (a): {stored:,.0f}/s")
            phases.append(replace(under_load, background_readings_per_s=stored))
            say(f"   (b) idle for {idle_minutes:g} min, then {alerts} alerts")
            time.sleep(idle_minutes * 60)
            phases.append(bench.measure(f"after {idle_minutes:g} idle min", publisher, measured["IA"],
                                        shipments["IA"], 0.0))
    finally:
        if background is not None:
            background.terminate()
        if publisher is not None:
            publisher.disconnect()
            publisher.loop_stop()
        bench.stop()
        controller.stop()
        bench.clean_up()
    return phases
