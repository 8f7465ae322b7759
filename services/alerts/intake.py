"""From an upstream event and its shipment to stored alerts and deliveries.

The consumer (Kafka, wired by the service's main) first asks ``excursion_triggers`` /
``eta_triggers`` what a record could alert anyone of (pure: most ETA updates, none), looks
the shipment up only when that is something, then calls ``on_triggers``, and commits the
record's offset after the call returns: the outbox write is idempotent, so a record
processed again after a crash changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from schemas.alert import Alert, AlertEvent, alert_event
from schemas.common import utc_now
from schemas.eta import EtaUpdate
from schemas.excursion import ExcursionEvent
from schemas.shipment import ShipmentIn
from services.alerts.outbox import AlertOutbox
from services.alerts.policy import PolicyConfig, Recipient, handle_trigger, recipients_for
from services.alerts.sources import FOUND_LATE_AFTER, trigger_from_eta, trigger_from_excursion, trigger_from_viability
from services.alerts.trigger import AlertTrigger
from services.alerts.whereabouts import locate

# A recipient's page link works until the shipment's deliver_by plus this: long enough to
# settle a claim, short enough that an old email is not a key for ever.
SHARE_LINK_GRACE = timedelta(days=7)

log = logging.getLogger(__name__)


class AlertIntake:
    def __init__(
        self,
        outbox: AlertOutbox,
        policy: PolicyConfig,
        ops: Sequence[Recipient],
        clock: Callable[[], datetime] = utc_now,
        on_deliveries: Callable[[], None] | None = None,
        found_late_after: timedelta = FOUND_LATE_AFTER,
        on_raised: Callable[[Sequence[Alert]], None] | None = None,
    ) -> None:
        self._outbox = outbox
        self._found_late_after = found_late_after
        self._policy = policy
        self._ops = list(ops)
        self._clock = clock
        self._on_deliveries = on_deliveries  # wakes the dispatcher (``AlertDispatcher.wake``)
        self._on_raised = on_raised  # counts them (``AlertMetrics.observe_raised``)

    def excursion_triggers(self, event: ExcursionEvent) -> list[AlertTrigger]:
        """What an excursion step could alert anyone of (pure; no shipment needed)."""
        trigger = trigger_from_excursion(event, self._found_late_after)
        return [] if trigger is None else [trigger]

    def eta_triggers(self, update: EtaUpdate) -> list[AlertTrigger]:
        """What an ETA update could alert anyone of (pure): none for a plain ETA move."""
        found = (trigger_from_eta(update), trigger_from_viability(update))
        return [trigger for trigger in found if trigger is not None]

    async def on_excursion(self, event: ExcursionEvent, shipment: ShipmentIn) -> list[AlertEvent]:
        return await self.on_triggers(self.excursion_triggers(event), shipment)

    async def on_eta(self, update: EtaUpdate, shipment: ShipmentIn) -> list[AlertEvent]:
        return await self.on_triggers(self.eta_triggers(update), shipment)

    async def on_triggers(self, triggers: Sequence[AlertTrigger], shipment: ShipmentIn) -> list[AlertEvent]:
        events: list[AlertEvent] = []
        for trigger in triggers:
            events += await self.on_trigger(trigger, shipment)
        return events

    async def on_trigger(self, trigger: AlertTrigger, shipment: ShipmentIn) -> list[AlertEvent]:
        """Stores what the trigger causes; returns feed events for alerts new to the outbox."""
        now = self._clock()
        cancelled_at = getattr(shipment, "cancelled_at", None)
        if cancelled_at is not None and trigger.event_time >= cancelled_at:
            return []  # a cancelled shipment: nobody is told of what happens to it afterwards
        trigger = locate(trigger, shipment)  # where it was, from the booked legs
        recipients = recipients_for(shipment, self._ops)
        outcome, new_ids = await self._outbox.apply(
            trigger.shipment_id,
            lambda state: handle_trigger(state, trigger, recipients, self._policy, now),
            now,
            links_until=shipment.deliver_by + SHARE_LINK_GRACE,
        )
        if outcome.deliveries and self._on_deliveries is not None:
            self._on_deliveries()
        raised = [alert for alert in outcome.alerts if alert.id in new_ids]
        self._observe(raised)
        return [
            alert_event(
                alert,
                "suppressed" if alert.suppressed else "raised",
                now,
                detail=alert.suppressed or ("found late in an uploaded backlog" if alert.found_late else None),
            )
            for alert in raised
        ]

    def _observe(self, raised: list[Alert]) -> None:
        for alert in raised:
            log.info("raised %s %s %s%s", alert.severity, alert.kind, alert.step, _held(alert),
                     extra={"alert_id": alert.id, "shipment_id": alert.shipment_id})
        if raised and self._on_raised is not None:
            self._on_raised(raised)


def _held(alert: Alert) -> str:
    if alert.suppressed:
        return f", suppressed: {alert.suppressed}"
    return f", held until {alert.hold_until.isoformat()}" if alert.hold_until is not None else ""
