"""The retention service's Prometheus metrics: its runs, what they dropped, compressed and
sealed, and when one last succeeded. One registry per process."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class RetentionMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    last_run_ok: bool = False  # for /readyz: the database answered the last run

    def __post_init__(self) -> None:
        self.runs = Counter("coldchain_retention_runs", "Retention runs, by outcome (ok, failed)", ["outcome"],
                            registry=self.registry)
        self.done = Counter("coldchain_retention_done", "What runs did: chunks dropped or compressed per table, "
                            "shipments sealed", ["what"], registry=self.registry)
        self.last_success = Gauge("coldchain_retention_last_success_timestamp_seconds",
                                  "When a run last succeeded (Unix time)", registry=self.registry)

    def observe_run(self, done: dict[str, int] | None, at: datetime) -> None:
        """A run's result (``run_once``), or None for a run that failed."""
        self.last_run_ok = done is not None
        self.runs.labels("ok" if done is not None else "failed").inc()
        if done is None:
            return
        for what, count in done.items():
            self.done.labels(what).inc(count)
        self.last_success.set(at.timestamp())
