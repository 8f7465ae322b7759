"""The alert service's Prometheus metrics: what ops watch first (deliveries by channel and
status, what waits in the outbox, how long an alert takes from raised to sent, alerts
raised and held). One registry per process, passed down."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.alert import Alert, AlertEvent
from services.alerts.outbox import ClaimedDelivery

# Seconds from raised to sent: an SMS or email goes in seconds; a found-late alert is held
# 30 s for the rest of the backlog; quiet hours defer some for up to a night.
TIME_TO_SEND_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 45, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600)
DELIVERY_OUTCOMES = ("sent", "retried", "failed")
WAITING = ("pending", "sending")


@dataclass
class AlertMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.events = Counter("coldchain_alerts_events", "Alert and delivery events, by status",
                              ["status", "channel", "severity"], registry=self.registry)
        self.deliveries = Counter("coldchain_alerts_deliveries", "Delivery attempts, by channel and outcome "
                                  "(sent, retried, failed for good)", ["channel", "status"], registry=self.registry)
        self.time_to_send = Histogram("coldchain_alerts_raised_to_sent_seconds",
                                      "Seconds from an alert raised to a delivery of it sent, by channel",
                                      ["channel"], buckets=TIME_TO_SEND_BUCKETS, registry=self.registry)
        self.raised = Counter("coldchain_alerts_raised", "Alerts raised (new to the outbox), by kind and severity",
                              ["kind", "severity"], registry=self.registry)
        self.suppressed = Counter("coldchain_alerts_suppressed", "Alerts raised but told to no one (flapping)",
                                  ["kind"], registry=self.registry)
        self.held = Counter("coldchain_alerts_held", "Alerts found late whose deliveries wait for the rest of "
                            "the backlog", ["kind"], registry=self.registry)
        self.outbox = Gauge("coldchain_alerts_outbox_deliveries", "Deliveries in the outbox, by status",
                            ["status"], registry=self.registry)
        self.outbox_depth = Gauge("coldchain_alerts_outbox_depth", "Deliveries waiting to be sent (pending or "
                                  "sending)", registry=self.registry)
        self.oldest_due_s = Gauge("coldchain_alerts_oldest_due_delivery_seconds",
                                  "How long the oldest due, unsent delivery has waited past its time",
                                  registry=self.registry)

    def known_channels(self, channels: Sequence[str]) -> None:
        """Every configured channel's delivery series, at 0 until its first delivery."""
        for channel in channels:
            for outcome in DELIVERY_OUTCOMES:
                self.deliveries.labels(channel, outcome)

    def counting(self, publish: Callable[[AlertEvent], Awaitable[None]]) -> Callable[[AlertEvent], Awaitable[None]]:
        """``publish`` (the feed), counting each event on its way."""
        async def count_then_publish(event: AlertEvent) -> None:
            self.events.labels(event.status, event.channel or "", event.severity).inc()
            await publish(event)
        return count_then_publish

    def observe_delivery(self, delivery: ClaimedDelivery, outcome: str, now: datetime) -> None:
        """A delivery attempt's outcome (``DELIVERY_OUTCOMES``); a sent one's time since raised."""
        self.deliveries.labels(delivery.channel, outcome).inc()
        if outcome == "sent" and delivery.raised_at is not None:
            self.time_to_send.labels(delivery.channel).observe(max(0.0, (now - delivery.raised_at).total_seconds()))

    def observe_raised(self, alerts: Sequence[Alert]) -> None:
        """Alerts new to the outbox."""
        for alert in alerts:
            self.raised.labels(alert.kind, alert.severity).inc()
            if alert.suppressed:
                self.suppressed.labels(alert.kind).inc()
            elif alert.hold_until is not None:
                self.held.labels(alert.kind).inc()

    def observe_outbox(self, by_status: dict[str, int], oldest_due_s: float) -> None:
        for status in ("pending", "sending", "sent", "failed"):
            self.outbox.labels(status).set(by_status.get(status, 0))
        self.outbox_depth.set(sum(by_status.get(status, 0) for status in WAITING))
        self.oldest_due_s.set(oldest_due_s)
