"""The API's Prometheus metrics (served at its own ``/metrics``), one registry per app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass
class ApiMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter("coldchain_api_requests", "HTTP requests, by method, route template and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("coldchain_api_request_duration_seconds",
                                 "Seconds from a request's arrival to its response's start, by route template",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)

    def observe_feed(self, resting: Callable[[], bool]) -> None:
        Gauge("coldchain_api_feed_readings_resting",
              "1 while no live-feed client takes readings, so the feed does not fetch them",
              registry=self.registry).set_function(lambda: float(resting()))
