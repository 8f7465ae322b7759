"""The raw ceiling of each piece alone: Mosquitto, the Kafka producer, PostgreSQL COPY."""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bench.loadgen import PublishPlan, PublishResult, SubscribeResult, publish, subscribe
from schemas.reading import Reading, ReadingBatch
from services.sink.writers import ReadingWriter

SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Ceiling:
    name: str
    count: int
    seconds: float
    unit: str
    note: str

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "count": self.count, "seconds": round(self.seconds, 3),
                "rate": round(self.rate), "unit": self.unit, "note": self.note}


def mqtt_ceiling(admin_url: str, run_id: str, messages: int) -> Ceiling:
    """One QoS 1 publisher process -> Mosquitto -> one QoS 1 subscriber process, on a
    topic outside the devices tree (so no ingest sees it)."""
    topic = f"coldchain/bench/{run_id}/ceiling"
    ready, results = SPAWN.Event(), SPAWN.Queue()
    subscriber = SPAWN.Process(target=subscribe, args=(admin_url, topic, messages, ready, results))
    subscriber.start()
    if not ready.wait(30):
        subscriber.terminate()
        raise RuntimeError("the benchmark subscriber did not subscribe")
    plan = PublishPlan(admin_url, f"BENCH-{run_id}-MQ-", devices=1, per_device=messages, topic=topic,
                       base_ts=time.time() - 86400)
    publisher = SPAWN.Process(target=publish, args=(plan, results))
    publisher.start()
    outcomes: list[Any] = [results.get(timeout=180), results.get(timeout=180)]
    publisher.join(10)
    subscriber.join(10)
    sub = next(o for o in outcomes if isinstance(o, SubscribeResult))
    pub = next(o for o in outcomes if isinstance(o, PublishResult))
    for outcome in (sub, pub):
        if outcome.error:
            raise RuntimeError(outcome.error)
    seconds = max(sub.last, pub.all_acked) - pub.first_publish
    return Ceiling("Mosquitto alone (QoS 1, pub and sub processes)", sub.received, seconds, "msg/s",
                   f"{sub.received}/{messages} received; publisher acked in "
                   f"{pub.all_acked - pub.first_publish:.2f} s")


def bench_readings(device_prefix: str, devices: int, per_device: int) -> list[Reading]:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    received = datetime.now(UTC)
    return [
        Reading(device_id=f"{device_prefix}{d:04d}", time=base + timedelta(seconds=i), seq=i,
                temp_c=2.5, humidity_pct=91.0, lat=44.88, lon=-63.5, battery_pct=90.0, received_at=received)
        for d in range(devices) for i in range(per_device)
    ]


def kafka_ceiling(client_config: dict[str, Any], run_id: str, records: int) -> Ceiling:
    """The ingest producer's settings (idempotent, acks=all, lz4, linger 5 ms) writing
    pre-serialised Reading JSON to a throw-away topic with the readings topic's partitions."""
    topic = f"coldchain.bench-{run_id}"
    admin = AdminClient(client_config)
    admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])[topic].result()
    readings = bench_readings(f"BENCH-{run_id}-KF-", 100, records // 100)
    encoded = [(r.key.encode(), r.model_dump_json().encode()) for r in readings]
    producer = Producer({**client_config, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
                         "batch.num.messages": 10000, "compression.type": "lz4",
                         "queue.buffering.max.messages": 500000})
    try:
        began = time.perf_counter()
        for key, value in encoded:
            while True:
                try:
                    producer.produce(topic, value=value, key=key)
                    break
                except BufferError:
                    producer.poll(0.05)
            producer.poll(0)
        left = producer.flush(60)
        seconds = time.perf_counter() - began
    finally:
        admin.delete_topics([topic])
    return Ceiling("Kafka producer alone (idempotent, acks=all)", len(encoded) - left, seconds, "records/s",
                   f"{len(encoded)} Reading records, ~{len(encoded[0][1])} B each, serialised beforehand")


def copy_ceiling(dsn: str, run_id: str, rows: int, batch: int = 5000) -> Ceiling:
    """The sink's own writer (the chain worked out, then one binary COPY of the new rows with
    their hashes) into the real readings table, one transaction per batch, as the sink commits."""
    prefix = f"BENCH-{run_id}-PG-"
    readings = [ReadingBatch.model_construct(readings=[r]) for r in bench_readings(prefix, 100, rows // 100)]
    writer = ReadingWriter()
    written = 0
    with psycopg.connect(dsn) as conn:
        writer.prepare(conn)
        conn.commit()
        began = time.perf_counter()
        for start in range(0, len(readings), batch):
            with conn.transaction():
                written += writer.write(conn, readings[start:start + batch])
        seconds = time.perf_counter() - began
    return Ceiling("TimescaleDB COPY alone (the sink's writer)", written, seconds, "rows/s",
                   f"{written} new rows in batches of {batch}, one transaction each")
