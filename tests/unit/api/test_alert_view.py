"""The shipment's alert list as the API returns it: what the outbox query hands over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.alerts.policy import AlertState, PolicyConfig, decide
from services.api.alert_routes import _alert_view
from tests.unit.alerts.factories import trigger

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai


def test_a_deferred_delivery_says_until_when_and_where_its_zone_came_from() -> None:
    _, [alert] = decide(AlertState(), trigger(), PolicyConfig())
    morning = NOW + timedelta(hours=8)
    row = {
        "body": alert.model_dump(mode="json"),
        "raised_at": NOW,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "escalated_at": None,
        # jsonb_build_object hands timestamps over as ISO strings
        "deliveries": [
            {
                "role": "buyer",
                "channel": "email",
                "status": "pending",
                "attempts": 0,
                "sent_at": None,
                "last_error": None,
                "acknowledged_at": None,
                "not_before": morning.isoformat(),
                "deferred": True,
                "next_attempt_at": morning.isoformat(),
                "created_at": NOW.isoformat(),
                "timezone": "Asia/Shanghai",
                "timezone_source": "phone",
                "language": "zh-CN",
                "sms_encoding": None,
                "sms_segments": None,
            }
        ],
    }
    view = _alert_view(row)
    [delivery] = view.deliveries
    assert view.id == alert.id and not view.acknowledged and not view.found_late
    assert delivery.deferred and delivery.not_before == morning
    assert (delivery.timezone, delivery.timezone_source, delivery.language) == ("Asia/Shanghai", "phone", "zh-CN")
    assert view.model_dump(mode="json")["deliveries"][0]["not_before"] == "2026-11-10T23:00:00Z"


def test_deliveries_stored_before_the_new_columns_still_list() -> None:
    _, [alert] = decide(AlertState(), trigger(), PolicyConfig())
    old = {"role": "seller", "channel": "sms", "status": "sent", "attempts": 1, "sent_at": NOW.isoformat(),
           "last_error": None, "acknowledged_at": None}
    row = {"body": alert.model_dump(mode="json"), "raised_at": NOW, "acknowledged_at": NOW,
           "acknowledged_by": "+19025550100", "escalated_at": None, "deliveries": [old]}
    view = _alert_view(row)
    assert view.acknowledged and view.deliveries[0].not_before is None and not view.deliveries[0].deferred
