"""The alert service's Prometheus metrics: what ops watch first (deliveries by status, what
waits in the outbox, how old its oldest due delivery is). One registry per process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge

from schemas.alert import AlertEvent


@dataclass
class AlertMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.events = Counter("coldchain_alerts_events", "Alert and delivery events, by status",
                              ["status", "channel", "severity"], registry=self.registry)
        self.outbox = Gauge("coldchain_alerts_outbox_deliveries", "Deliveries in the outbox, by status",
                            ["status"], registry=self.registry)
        self.oldest_due_s = Gauge("coldchain_alerts_oldest_due_delivery_seconds",
                                  "How long the oldest due, unsent delivery has waited past its time",
                                  registry=self.registry)

    def counting(self, publish: Callable[[AlertEvent], Awaitable[None]]) -> Callable[[AlertEvent], Awaitable[None]]:
        """``publish`` (the feed), counting each event on its way."""
        async def count_then_publish(event: AlertEvent) -> None:
            self.events.labels(event.status, event.channel or "", event.severity).inc()
            await publish(event)
        return count_then_publish

    def observe_outbox(self, by_status: dict[str, int], oldest_due_s: float) -> None:
        for status in ("pending", "sending", "sent", "failed"):
            self.outbox.labels(status).set(by_status.get(status, 0))
        self.oldest_due_s.set(oldest_due_s)
