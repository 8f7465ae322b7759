"""Sends due deliveries from the outbox, retries with backoff, and escalates to ops.

A delivery is claimed ('sending', with a lease) and committed before the provider is
called, then marked sent. A crash between the provider accepting and the mark leaves
a 'sending' row whose lease runs out; the next claim sees ``reclaimed`` and first asks
the channel whether the provider already has it (Twilio can be asked). Email carries a
Message-ID derived from the delivery id and the SMS gateway an Idempotency-Key, so a
resend in that narrow window is recognisable downstream as the same message.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from structlog.contextvars import bound_contextvars

from schemas.alert import AlertEvent, AlertEventStatus, ChannelName, alert_event
from schemas.common import utc_now
from services.alerts.backoff import Backoff, backoff_delay, gives_up
from services.alerts.channel_set import ESCALATION_CHANNELS, ChannelSet, Sent
from services.alerts.channels.base import PermanentDeliveryError, RetryableDeliveryError
from services.alerts.escalation import EscalationCandidate, escalation_due, plan_escalation
from services.alerts.formatting import LinkConfig
from services.alerts.outbox import AlertOutbox, ClaimedDelivery
from services.alerts.policy import PlannedDelivery, PolicyConfig, Recipient, recipient_zone

log = logging.getLogger(__name__)

EventSink = Callable[[AlertEvent], Awaitable[None]]
# A delivery attempt's outcome ('sent', 'retried' or 'failed') and when it was known: metrics.
DeliveryObserver = Callable[[ClaimedDelivery, str, datetime], None]


@dataclass(frozen=True)
class DispatchConfig:
    batch_size: int = 20
    lease: timedelta = timedelta(minutes=5)
    poll_interval: timedelta = timedelta(seconds=2)
    escalate_after: timedelta = timedelta(minutes=30)
    escalation_channels: tuple[ChannelName, ...] = ESCALATION_CHANNELS
    backoff: Backoff = field(default_factory=Backoff)


@dataclass
class DispatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    escalated: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.sent or self.retried or self.failed or self.escalated)


class AlertDispatcher:
    def __init__(
        self,
        outbox: AlertOutbox,
        channels: ChannelSet,
        links: LinkConfig,
        policy: PolicyConfig,
        ops: Sequence[Recipient],
        config: DispatchConfig,
        clock: Callable[[], datetime] = utc_now,
        on_event: EventSink | None = None,
        on_delivery: DeliveryObserver | None = None,
    ) -> None:
        self._outbox = outbox
        self._channels = channels
        self._links = links
        self._policy = policy
        self._ops = list(ops)
        self._config = config
        self._clock = clock
        self._on_event = on_event
        self._on_delivery = on_delivery
        self._worker = uuid.uuid4().hex[:12]
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """New deliveries are in the outbox: run a round now rather than at the next poll."""
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until ``stop`` is set: at once after a busy round or a ``wake()``, else
        every ``poll_interval`` (the safety net that also picks up retries falling due)."""
        watcher = asyncio.create_task(self._wake_on(stop))
        try:
            while not stop.is_set():
                # Cleared before the round: a wake() during it asks for one more round.
                self._wakeup.clear()
                try:
                    report = await self.run_once()
                except Exception:  # a database hiccup must not end the service
                    log.exception("alert dispatch round failed")
                    report = DispatchReport()
                if report.busy:
                    continue
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout=self._config.poll_interval.total_seconds())
                except TimeoutError:
                    pass
        finally:
            watcher.cancel()

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wakeup.set()

    async def run_once(self) -> DispatchReport:
        report = DispatchReport()
        report.escalated = await self._escalate()
        claimed = await self._outbox.claim_due(
            self._clock(),
            self._channels.names(),
            self._config.batch_size,
            f"{self._worker}-{uuid.uuid4().hex[:8]}",
            self._config.lease,
        )
        outcomes = await asyncio.gather(*(self._deliver(d) for d in claimed))
        for outcome in outcomes:
            setattr(report, outcome, getattr(report, outcome) + 1)
        return report

    async def _escalate(self) -> int:
        if not self._ops:
            return 0
        now = self._clock()

        def plan(candidate: EscalationCandidate) -> list[PlannedDelivery] | None:
            if not escalation_due(candidate, now, self._config.escalate_after):
                return None
            return plan_escalation(candidate.alert, self._ops, self._config.escalation_channels, self._policy, now)

        alerts = await self._outbox.escalate(now, self._config.escalate_after, plan)
        for alert in alerts:
            log.info("escalated %s %s to ops", alert.kind, alert.step,
                     extra={"alert_id": alert.id, "shipment_id": alert.shipment_id})
            await self._emit(alert_event(alert, "escalated", now, role="ops"))
        return len(alerts)

    async def _deliver(self, delivery: ClaimedDelivery) -> str:
        """Returns the report field to count: 'sent', 'retried' or 'failed'. Every line logged
        meanwhile names the alert, its shipment and the delivery (each runs in a task of its own)."""
        with bound_contextvars(alert_id=delivery.alert.id, shipment_id=delivery.alert.shipment_id,
                               delivery_id=delivery.id):
            outcome = await self._attempt(delivery)
        if self._on_delivery is not None:
            self._on_delivery(delivery, outcome, self._clock())
        return outcome

    async def _attempt(self, delivery: ClaimedDelivery) -> str:
        try:
            sent = await self._send(delivery)
        except PermanentDeliveryError as exc:
            await self._outbox.mark_failed(delivery, str(exc))
            log.error("%s %s to %s refused for good: %s", delivery.channel, delivery.id, delivery.role, exc)
            await self._emit_delivery(delivery, "failed", str(exc))
            return "failed"
        except Exception as exc:  # retryable, or a bug: keep the message, try later
            if not isinstance(exc, RetryableDeliveryError):
                log.exception("unexpected error delivering %s", delivery.id)
            return await self._retry_or_fail(delivery, f"{type(exc).__name__}: {exc}")
        await self._outbox.mark_sent(delivery, self._clock(), sent)
        log.info("sent %s %s to %s (%s, attempt %d)", delivery.alert.step, delivery.channel, delivery.role,
                 delivery.id, delivery.attempts)
        await self._emit_delivery(delivery, "sent", None)
        return "sent"

    async def _send(self, delivery: ClaimedDelivery) -> Sent:
        """Through the delivery's channel, written in its recipient's zone and language."""
        channel = self._channels.get(delivery.channel)
        if channel is None:  # claimed only for configured channels: a bug, or a changed configuration
            raise RetryableDeliveryError("channel not configured")
        zone = recipient_zone(delivery.timezone, self._policy.default_timezone)
        return await channel.send(delivery, zone, self._links)

    async def _retry_or_fail(self, delivery: ClaimedDelivery, error: str) -> str:
        if gives_up(delivery.attempts, self._config.backoff):
            await self._outbox.mark_failed(delivery, f"gave up after {delivery.attempts}: {error}")
            log.error("%s %s to %s given up after %d attempts: %s", delivery.channel, delivery.id,
                      delivery.role, delivery.attempts, error)
            await self._emit_delivery(delivery, "failed", error)
            return "failed"
        delay = backoff_delay(delivery.attempts, delivery.id, self._config.backoff)
        await self._outbox.mark_retry(delivery, self._clock() + delay, error)
        log.warning("%s %s to %s failed (attempt %d), retry in %.1f s: %s", delivery.channel, delivery.id,
                    delivery.role, delivery.attempts, delay.total_seconds(), error)
        return "retried"

    async def _emit_delivery(self, delivery: ClaimedDelivery, status: AlertEventStatus, detail: str | None) -> None:
        await self._emit(alert_event(delivery.alert, status, self._clock(), role=delivery.role,
                                     channel=delivery.channel, detail=detail))

    async def _emit(self, event: AlertEvent) -> None:
        if self._on_event is None:
            return
        try:
            await self._on_event(event)
        except Exception:  # the feed is best effort; the outbox is the record
            log.exception("alert event sink failed")

