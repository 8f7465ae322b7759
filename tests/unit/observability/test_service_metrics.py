"""Each service's registry exposes the metrics ops look for; the alert dispatcher counts and
times its deliveries and names the alert in its log lines; the API serves its own health."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, generate_latest

from services.alerts.channel_set import ChannelSet
from services.alerts.dispatcher import AlertDispatcher, DispatchConfig
from services.alerts.formatting import LinkConfig
from services.alerts.metrics import AlertMetrics
from services.alerts.outbox import ClaimedDelivery
from services.alerts.policy import PolicyConfig
from services.api.app import create_app
from services.api.settings import ApiSettings
from services.ingest.metrics import IngestMetrics
from services.kafka.stream_metrics import HoldingStreamMetrics, StreamMetrics
from services.retention.metrics import RetentionMetrics
from services.sink.store import SinkMetrics
from tests.unit.alerts.factories import every_alert
from tests.unit.observability.conftest import Lines

NOW = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)


def names(registry: CollectorRegistry) -> set[str]:
    return {metric.name for metric in registry.collect()}


def test_ingest_and_sink_keep_their_metrics() -> None:
    assert {"coldchain_ingest_messages_received", "coldchain_ingest_readings_accepted", "coldchain_ingest_refused",
            "coldchain_ingest_records_produced"} <= names(IngestMetrics().registry)
    assert {"coldchain_sink_rows_written", "coldchain_sink_records_refused",
            "coldchain_sink_consumer_lag"} <= names(SinkMetrics().registry)


def test_the_processors_count_what_they_took_in_emitted_and_skipped() -> None:
    excursions = StreamMetrics("excursions")
    assert {"coldchain_excursions_records_processed", "coldchain_excursions_readings_processed",
            "coldchain_excursions_events_emitted", "coldchain_excursions_records_skipped"} <= names(excursions.registry)
    eta = HoldingStreamMetrics("eta")
    assert {"coldchain_eta_records_processed", "coldchain_eta_events_emitted", "coldchain_eta_records_skipped",
            "coldchain_eta_readings_held", "coldchain_eta_readings_dropped"} <= names(eta.registry)
    text = generate_latest(excursions.registry).decode()
    assert 'coldchain_excursions_records_skipped_total{reason="unbound"} 0.0' in text


def test_the_alert_service_metrics() -> None:
    assert {"coldchain_alerts_deliveries", "coldchain_alerts_raised_to_sent_seconds", "coldchain_alerts_raised",
            "coldchain_alerts_held", "coldchain_alerts_suppressed", "coldchain_alerts_outbox_depth",
            "coldchain_alerts_outbox_deliveries", "coldchain_alerts_oldest_due_delivery_seconds",
            } <= names(AlertMetrics().registry)


def test_retention_metrics() -> None:
    metrics = RetentionMetrics()
    metrics.observe_run({"readings": 2}, NOW)
    assert metrics.last_run_ok
    text = generate_latest(metrics.registry).decode()
    assert 'coldchain_retention_done_total{what="readings"} 2.0' in text
    assert 'coldchain_retention_runs_total{outcome="ok"} 1.0' in text
    metrics.observe_run(None, NOW)
    assert not metrics.last_run_ok


def test_alerts_raised_held_and_suppressed_are_counted() -> None:
    metrics = AlertMetrics()
    alert = every_alert()[0]
    metrics.observe_raised([alert, alert.model_copy(update={"hold_until": NOW}),
                            alert.model_copy(update={"suppressed": "flapping"})])
    text = generate_latest(metrics.registry).decode()
    assert f'coldchain_alerts_raised_total{{kind="{alert.kind}",severity="{alert.severity}"}} 3.0' in text
    assert f'coldchain_alerts_held_total{{kind="{alert.kind}"}} 1.0' in text
    assert f'coldchain_alerts_suppressed_total{{kind="{alert.kind}"}} 1.0' in text
    metrics.observe_outbox({"pending": 2, "sending": 1, "sent": 40}, 3.0)
    assert "coldchain_alerts_outbox_depth 3.0" in generate_latest(metrics.registry).decode()


class _Outbox:
    def __init__(self, delivery: ClaimedDelivery) -> None:
        self.delivery = delivery

    async def claim_due(self, *args: Any) -> list[ClaimedDelivery]:
        due, self.delivery = [self.delivery], None  # type: ignore[assignment]
        return [d for d in due if d is not None]

    async def mark_sent(self, *args: Any) -> bool:
        return True


class _Sms:
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, message: Any) -> str:
        return "ref-1"


def test_a_sent_delivery_is_counted_timed_and_logged_with_its_alert(json_logs: Lines) -> None:
    alert = every_alert()[0]
    delivery = ClaimedDelivery(id="dl-1", alert=alert, role="buyer", channel="sms", address="+19025550100",
                               recipient_name="Buyer", timezone="UTC", attempts=1, claim_token="c", reclaimed=False,
                               raised_at=NOW - timedelta(seconds=4))
    metrics = AlertMetrics()
    dispatcher = AlertDispatcher(
        _Outbox(delivery), ChannelSet.of(sms=_Sms()), LinkConfig(public_url="https://cc.example", ack_secret=b"s" * 32),
        PolicyConfig(), [], DispatchConfig(), clock=lambda: NOW, on_delivery=metrics.observe_delivery)  # type: ignore[arg-type]
    report = asyncio.run(dispatcher.run_once())
    assert report.sent == 1
    text = generate_latest(metrics.registry).decode()
    assert 'coldchain_alerts_deliveries_total{channel="sms",status="sent"} 1.0' in text
    assert 'coldchain_alerts_raised_to_sent_seconds_bucket{channel="sms",le="5.0"} 1.0' in text
    assert 'coldchain_alerts_raised_to_sent_seconds_bucket{channel="sms",le="2.0"} 0.0' in text
    (sent,) = [line for line in json_logs() if line["event"].startswith("sent ")]
    assert (sent["alert_id"], sent["shipment_id"], sent["delivery_id"]) == (alert.id, alert.shipment_id, "dl-1")


def _get(app: Any, path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            return await client.get(path)
    return asyncio.run(go())


def test_the_api_serves_health_readiness_and_metrics_by_route_template() -> None:
    app = create_app(ApiSettings())  # not started: its pool is closed, its producer not made
    assert (_get(app, "/healthz").status_code, _get(app, "/healthz").json()) == (200, {"status": "ok"})
    ready = _get(app, "/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"ready": False, "checks": {"database": False, "kafka": False}}
    _get(app, "/api/v1/shipments/S-123")
    _get(app, "/no/such/path")
    text = _get(app, "/metrics").text
    assert 'coldchain_api_requests_total{method="GET",route="/api/v1/shipments/{shipment_id}",status="401"} 1.0' in text
    assert 'coldchain_api_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'coldchain_api_request_duration_seconds_count{method="GET",route="/readyz"} 1.0' in text
    assert "S-123" not in text
