"""``coldchain run alerts``: the alert service in the foreground.

One event loop runs two loops side by side: the consumer (excursion and ETA events ->
alerts and deliveries in the outbox, offsets committed after) and the dispatcher (due
deliveries -> SMTP / SMS, retried with backoff). The consumer wakes the dispatcher when it
stores new deliveries, so a new alert is sent at once; the dispatcher's poll only picks up
retries and deliveries deferred by quiet hours. (Both always run in one process: a second
instance has its own consumer waking its own dispatcher, so no LISTEN/NOTIFY is needed.)
SIGTERM or SIGINT ends both cleanly; a SIGKILL loses nothing either, since the outbox,
not memory, holds what is left to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.alerts.channel_set import ChannelSet, build_channels
from services.alerts.consumer import AlertRecords
from services.alerts.dispatcher import AlertDispatcher, DispatchConfig
from services.alerts.feed import AlertFeed
from services.alerts.intake import AlertIntake
from services.alerts.metrics import AlertMetrics
from services.alerts.outbox import AlertOutbox
from services.alerts.settings import AlertSettings
from services.alerts.zones import preload as preload_zones
from services.db.migrate import require_migrated
from services.kafka.clients import group_consumer
from services.kafka.consumer_loop import ConsumerLoop, LoopSettings
from services.logs import configure_logging
from services.metrics_server import MetricsServer
from services.registry.postgres import ShipmentLookup
from services.thread_deaths import exit_when_a_thread_dies

log = logging.getLogger("services.alerts")


@dataclass(frozen=True)
class AlertService:
    outbox: AlertOutbox
    shipments: ShipmentLookup
    channels: ChannelSet
    feed: AlertFeed
    records: AlertRecords
    consumer: ConsumerLoop
    dispatcher: AlertDispatcher
    metrics: AlertMetrics

    async def start(self) -> None:
        await self.outbox.start()
        await self.shipments.start()
        await self.channels.start()
        self.feed.start()
        await asyncio.to_thread(self.consumer.setup)

    async def run(self, stop: asyncio.Event) -> None:
        # A TaskGroup: should either loop die of a bug, the other is cancelled and the
        # process exits for its supervisor to restart, rather than run half a service.
        async with asyncio.TaskGroup() as group:
            group.create_task(self.consumer.run(stop))
            group.create_task(self.dispatcher.run(stop))
            group.create_task(self._watch_outbox(stop))

    async def _watch_outbox(self, stop: asyncio.Event, every_s: float = 15.0) -> None:
        while not stop.is_set():
            try:
                self.metrics.observe_outbox(*await self.outbox.depth(datetime.now(UTC)))
            except Exception:  # a metric is never worth stopping the service for
                log.exception("could not read the outbox's depth")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)

    def readiness(self) -> dict[str, bool]:
        """For /readyz: the outbox's database pool open, the consumer's partitions assigned."""
        return {"database": self.outbox.connected(), "kafka": self.consumer.assigned()}

    async def close(self) -> None:
        self.consumer.close()
        log.info("alert consumer closed: %s", self.records.counts.summary())
        self.feed.close()
        await self.channels.close()
        await self.shipments.close()
        await self.outbox.close()


def build_service(settings: AlertSettings) -> AlertService:
    """Every part, wired; no I/O (that happens in ``start``)."""
    links = settings.links()
    policy = settings.policy_config()
    ops = settings.ops_recipients()
    outbox = AlertOutbox(settings.dsn, links.ack_secret)
    metrics = AlertMetrics()
    shipments = ShipmentLookup(settings.dsn)
    channels = build_channels(settings)
    feed = AlertFeed(settings)
    dispatcher = AlertDispatcher(
        outbox,
        channels,
        links,
        policy,
        ops,
        DispatchConfig(
            batch_size=settings.alert_batch_size,
            lease=timedelta(seconds=settings.alert_claim_lease_s),
            poll_interval=timedelta(seconds=settings.alert_poll_interval_s),
            escalate_after=timedelta(minutes=settings.alert_escalate_after_min),
            escalation_channels=settings.alert_escalation_channels,
            backoff=settings.backoff(),
        ),
        on_event=metrics.counting(feed.publish_event),
        on_delivery=metrics.observe_delivery,
    )
    records = AlertRecords(
        # The intake wakes the dispatcher as soon as it stores new deliveries.
        AlertIntake(outbox, policy, ops, on_deliveries=dispatcher.wake,
                    found_late_after=settings.found_late_after(), on_raised=metrics.observe_raised),
        shipments,
        feed,
        unknown_shipment_grace_s=settings.alert_unknown_shipment_grace_s,
    )
    consumer = ConsumerLoop(
        records,
        LoopSettings(max_records=settings.alert_consume_batch, retry_after_s=settings.alert_record_retry_s),
        lambda: group_consumer(settings, settings.alert_group_id),
    )
    return AlertService(outbox, shipments, channels, feed, records, consumer, dispatcher, metrics)


async def serve(settings: AlertSettings) -> None:
    service = build_service(settings)
    preload_zones()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = MetricsServer(service.metrics.registry, settings.metrics_listen, service.readiness)
    server.start()
    await service.start()
    service.metrics.known_channels(service.channels.names())
    log.info("alert service started: group %s, channels %s", settings.alert_group_id,
             ", ".join(service.channels.names()) or "none")
    try:
        await service.run(stop)
    finally:
        await service.close()
        server.stop()
    log.info("alert service stopped")


def main(settings: AlertSettings | None = None) -> int:
    exit_when_a_thread_dies()
    settings = settings or AlertSettings()
    configure_logging(settings.log_format, settings.log_level, "alerts")
    require_migrated(settings.dsn)  # the owner migrates (`coldchain db migrate`), not the service
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
