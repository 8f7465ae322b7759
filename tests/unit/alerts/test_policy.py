from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from schemas.alert import Alert
from services.alerts.ids import alert_id, delivery_id
from services.alerts.policy import (
    HOLD_MARGIN,
    AlertState,
    PolicyConfig,
    QuietHours,
    Recipient,
    decide,
    handle_trigger,
    is_quiet,
    plan_deliveries,
    quiet_until,
    recipient_zone,
    recipients_for,
)
from services.alerts.trigger import AlertTrigger
from tests.unit.alerts.factories import T0, contract_shipment, shipment, trigger

SHANGHAI = ZoneInfo("Asia/Shanghai")
HALIFAX = ZoneInfo("America/Halifax")
QUIET = QuietHours(start=time(22, 0), end=time(7, 0))
CONFIG = PolicyConfig(quiet_hours=QUIET, flap_window=timedelta(minutes=30))


def _alert(step: str = "opened", severity: str = "warning") -> Alert:
    _, alerts = decide(AlertState(), trigger(step=step, severity=severity), CONFIG)  # type: ignore[arg-type]
    return alerts[0]


def _by_role_channel(deliveries: list) -> dict[tuple[str, str], datetime]:
    return {(d.role, d.channel): d.not_before for d in deliveries}


def _run(triggers: list[AlertTrigger], config: PolicyConfig = CONFIG) -> list[Alert]:
    state, out = AlertState(), []
    for t in triggers:
        state, alerts = decide(state, t, config)
        out.extend(alerts)
    return out


# --- quiet hours ---------------------------------------------------------------------


def test_quiet_hours_follow_each_recipients_zone_shanghai_night_halifax_day() -> None:
    now = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai, 11:00 in Halifax
    planned = _by_role_channel(plan_deliveries(_alert(), recipients_for(shipment()), CONFIG, now))
    buyer_at = planned[("buyer", "email")]
    assert planned[("seller", "email")] == now
    assert buyer_at > now
    assert buyer_at.astimezone(SHANGHAI).time() == time(7, 0)
    assert buyer_at.astimezone(SHANGHAI).date() == now.astimezone(SHANGHAI).date() + timedelta(1)
    assert is_quiet((buyer_at - timedelta(minutes=1)).astimezone(SHANGHAI).time(), QUIET)
    assert not is_quiet(buyer_at.astimezone(SHANGHAI).time(), QUIET)


def test_quiet_hours_halifax_night_shanghai_day() -> None:
    now = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)  # 01:00 in Halifax, 13:00 in Shanghai
    planned = _by_role_channel(plan_deliveries(_alert(), recipients_for(shipment()), CONFIG, now))
    seller_at = planned[("seller", "email")]
    assert planned[("buyer", "email")] == now
    assert seller_at.astimezone(HALIFAX).time() == time(7, 0)
    assert seller_at.astimezone(HALIFAX).date() == now.astimezone(HALIFAX).date()


def test_quiet_hours_end_keeps_local_hour_across_dst_change() -> None:
    # Halifax leaves daylight time at 02:00 on 1 Nov 2026: 01:30 ADT is 04:30 UTC, and
    # 07:00 that morning is AST (UTC-4), i.e. 11:00 UTC, not 04:30 + 5.5 h = 10:00 UTC.
    now = datetime(2026, 11, 1, 4, 30, tzinfo=UTC)
    end = quiet_until(now, HALIFAX, QUIET)
    assert end is not None
    assert end.astimezone(HALIFAX).time() == time(7, 0)
    assert end - now > timedelta(hours=5, minutes=30)


def test_critical_alert_overrides_quiet_hours_on_every_channel() -> None:
    now = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # Shanghai night
    planned = plan_deliveries(_alert(severity="critical"), recipients_for(shipment()), CONFIG, now)
    assert {(d.role, d.channel) for d in planned} == {
        ("seller", "email"),
        ("seller", "sms"),
        ("buyer", "email"),
        ("buyer", "sms"),
    }
    assert all(d.not_before == now for d in planned)


@pytest.mark.parametrize("step", ["opened", "escalated", "closed"])
def test_every_step_of_a_critical_excursion_goes_at_once_at_night(step: str) -> None:
    now = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    planned = _by_role_channel(
        plan_deliveries(_alert(step=step, severity="critical"), recipients_for(shipment()), CONFIG, now)
    )
    assert planned[("buyer", "sms")] == now and planned[("buyer", "email")] == now
    assert planned[("seller", "sms")] == now


def test_a_warning_at_night_is_deferred_to_the_morning() -> None:
    now = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    planned = _by_role_channel(
        plan_deliveries(_alert(step="closed", severity="warning"), recipients_for(shipment()), CONFIG, now)
    )
    assert planned[("buyer", "email")].astimezone(SHANGHAI).time() == time(7, 0)


def test_quiet_hours_outside_window_and_disabled_window() -> None:
    assert quiet_until(datetime(2026, 11, 10, 5, 0, tzinfo=UTC), SHANGHAI, QUIET) is None
    same = QuietHours(start=time(0, 0), end=time(0, 0))
    assert quiet_until(datetime(2026, 11, 10, 15, 0, tzinfo=UTC), SHANGHAI, same) is None
    daytime = QuietHours(start=time(12, 0), end=time(14, 0))
    assert is_quiet(time(13, 0), daytime) and not is_quiet(time(14, 0), daytime)
    assert is_quiet(time(23, 59), QUIET) and is_quiet(time(6, 59), QUIET)
    assert not is_quiet(time(7, 0), QUIET) and not is_quiet(time(21, 59), QUIET)


def test_a_recipient_whose_zone_nothing_tells_gets_the_configured_default() -> None:
    # (An unknown zone at registration is refused: see tests/unit/schemas/test_party.py.)
    config = PolicyConfig(quiet_hours=QUIET, default_timezone="Asia/Shanghai")
    now = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # Shanghai night
    nobody = Recipient(role="seller", name="Boat", email="boat@example.com")
    [planned] = plan_deliveries(_alert(), [nobody], config, now)
    assert planned.not_before.astimezone(SHANGHAI).time() == time(7, 0)
    assert (planned.timezone, planned.timezone_source) == ("Asia/Shanghai", "default")
    # An ops zone comes from settings, unchecked: an unknown one falls back as well.
    assert recipient_zone("Mars/Olympus", "Asia/Shanghai") == SHANGHAI


def test_zones_left_out_at_registration_come_from_the_phones() -> None:
    now = datetime(2026, 11, 10, 5, 0, tzinfo=UTC)  # 01:00 in Halifax, 13:00 in Shanghai
    planned = plan_deliveries(_alert(), recipients_for(contract_shipment()), CONFIG, now)
    by_role = {d.role: d for d in planned}
    assert (by_role["seller"].timezone, by_role["seller"].timezone_source) == ("America/Halifax", "phone")
    assert (by_role["buyer"].timezone, by_role["buyer"].timezone_source) == ("Asia/Shanghai", "phone")
    assert by_role["seller"].not_before.astimezone(HALIFAX).time() == time(7, 0)
    assert by_role["buyer"].not_before == now
    assert {d.language for d in planned} == {"en"}


def test_the_partys_language_travels_to_its_deliveries() -> None:
    planned = plan_deliveries(_alert(), recipients_for(contract_shipment(language="fr-CA")), CONFIG, T0)
    assert {d.language for d in planned} == {"fr-CA"}


def test_quiet_hours_only_on_configured_channels() -> None:
    config = PolicyConfig(quiet_hours=QuietHours(channels=frozenset({"sms"})))
    now = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    planned = plan_deliveries(_alert(), recipients_for(shipment()), config, now)
    assert [d.not_before for d in planned if d.role == "buyer"] == [now]


# --- routing and ids -----------------------------------------------------------------


def test_warning_goes_by_email_only_and_critical_adds_sms() -> None:
    now = T0
    warn = plan_deliveries(_alert(), recipients_for(shipment()), CONFIG, now)
    assert {d.channel for d in warn} == {"email"}
    crit = plan_deliveries(_alert(severity="critical"), recipients_for(shipment()), CONFIG, now)
    assert {d.channel for d in crit} == {"email", "sms"}


def test_same_person_as_seller_and_buyer_gets_one_delivery_per_channel() -> None:
    both = shipment(seller_email="Same@Example.com", buyer_email="same@example.com")
    planned = plan_deliveries(_alert(), recipients_for(both), CONFIG, T0)
    assert [d.address for d in planned] == ["same@example.com"]


def test_ops_hear_only_what_their_routes_admit() -> None:
    ops = Recipient(role="ops", name="Ops", email="ops@coldchain.example", phone="+15550000000")
    planned = plan_deliveries(_alert(severity="critical"), [ops], CONFIG, T0)
    assert planned == []  # by default ops hear alerts only by escalation


def test_ids_are_deterministic_and_distinct_per_step_recipient_and_channel() -> None:
    a1 = handle_trigger(AlertState(), trigger(), recipients_for(shipment()), CONFIG, T0)
    a2 = handle_trigger(AlertState(), trigger(), recipients_for(shipment()), CONFIG, T0)
    assert [d.id for d in a1.deliveries] == [d.id for d in a2.deliveries]
    assert a1.alerts[0].id == alert_id("exc-1", "opened") != alert_id("exc-1", "closed")
    aid = a1.alerts[0].id
    ids = {delivery_id(aid, "a@x.example", "email"), delivery_id(aid, "a@x.example", "sms")}
    ids.add(delivery_id(aid, "b@x.example", "email"))
    assert len(ids) == 3


# --- lifecycle steps, dedup, flapping ------------------------------------------------


def test_one_alert_per_lifecycle_step_and_redelivery_changes_nothing() -> None:
    steps = [
        trigger(step="opened", at=T0),
        trigger(step="opened", at=T0),  # redelivered
        trigger(step="escalated", severity="critical", at=T0 + timedelta(minutes=10)),
        trigger(step="escalated", severity="critical", at=T0 + timedelta(minutes=10)),
        trigger(step="closed", severity="critical", at=T0 + timedelta(minutes=50)),
        trigger(step="closed", severity="critical", at=T0 + timedelta(minutes=50)),
    ]
    alerts = _run(steps)
    assert [a.step for a in alerts] == ["opened", "escalated", "closed"]
    assert all(a.suppressed is None for a in alerts)


def test_a_step_overtaken_by_a_later_one_is_dropped() -> None:
    # Was: the first news was a bare "closed". Now it says the excursion happened (found
    # late, step "opened" with its end), and the older steps arriving after it add nothing.
    alerts = _run([trigger(step="closed"), trigger(step="opened"), trigger(step="escalated")])
    assert [(a.step, a.found_late) for a in alerts] == [("opened", True)]
    alerts = _run([trigger(step="opened"), trigger(step="closed"), trigger(step="opened")])
    assert [a.step for a in alerts] == ["opened", "closed"]


def test_reopening_within_the_flap_window_is_suppressed_with_its_closing() -> None:
    alerts = _run(
        [
            trigger("exc-1", "opened", at=T0),
            trigger("exc-1", "closed", at=T0 + timedelta(minutes=3)),
            trigger("exc-2", "opened", at=T0 + timedelta(minutes=6)),
            trigger("exc-2", "closed", at=T0 + timedelta(minutes=9)),
        ]
    )
    told = [(a.trigger_id, a.step) for a in alerts if a.suppressed is None]
    quiet = [(a.trigger_id, a.step) for a in alerts if a.suppressed is not None]
    assert told == [("exc-1", "opened"), ("exc-1", "closed")]
    assert quiet == [("exc-2", "opened"), ("exc-2", "closed")]
    assert "flapping" in (alerts[2].suppressed or "")


def test_escalation_of_a_suppressed_trigger_is_told_and_so_is_its_closing() -> None:
    alerts = _run(
        [
            trigger("exc-1", "opened", at=T0),
            trigger("exc-2", "opened", at=T0 + timedelta(minutes=6)),
            trigger("exc-2", "escalated", "critical", at=T0 + timedelta(minutes=8)),
            trigger("exc-2", "closed", "critical", at=T0 + timedelta(minutes=20)),
        ]
    )
    assert [(a.trigger_id, a.step, a.suppressed is None) for a in alerts] == [
        ("exc-1", "opened", True),
        ("exc-2", "opened", False),
        ("exc-2", "escalated", True),
        ("exc-2", "closed", True),
    ]


def test_flapping_storm_tells_at_most_one_opening_per_window() -> None:
    window = CONFIG.flap_window
    storm = []
    for i in range(30):  # opens every 4 minutes for 2 hours, each closes 2 minutes later
        start = T0 + timedelta(minutes=4 * i)
        storm += [
            trigger(f"exc-{i}", "opened", at=start),
            trigger(f"exc-{i}", "closed", at=start + timedelta(minutes=2)),
        ]
    alerts = _run(storm)
    opened = [a for a in alerts if a.step == "opened" and a.suppressed is None]
    closed = [a for a in alerts if a.step == "closed" and a.suppressed is None]
    assert len(alerts) == len(storm)  # every step is recorded, told or not
    assert 1 < len(opened) < len(storm) // 2
    gaps = [b.event_time - a.event_time for a, b in zip(opened, opened[1:], strict=False)]
    assert all(gap >= window for gap in gaps)
    assert {a.trigger_id for a in closed} == {a.trigger_id for a in opened}


def test_different_kinds_do_not_suppress_each_other() -> None:
    alerts = _run(
        [
            trigger("exc-1", at=T0, kind="temp_high"),
            trigger("exc-2", at=T0 + timedelta(minutes=1), kind="humidity_low"),
        ]
    )
    assert all(a.suppressed is None for a in alerts)


def test_late_batch_before_the_last_told_alert_is_still_flapping() -> None:
    alerts = _run(
        [
            trigger("exc-2", at=T0 + timedelta(minutes=10)),
            trigger("exc-1", at=T0),  # arrives later, happened earlier
        ]
    )
    assert alerts[0].suppressed is None and alerts[1].suppressed is not None


def test_state_survives_a_json_round_trip() -> None:
    state, _ = decide(AlertState(), trigger("exc-1", at=T0), CONFIG)
    restored = AlertState.model_validate_json(state.model_dump_json())
    _, again = decide(restored, trigger("exc-1", at=T0), CONFIG)
    _, flap = decide(restored, trigger("exc-2", at=T0 + timedelta(minutes=5)), CONFIG)
    assert again == []
    assert flap[0].suppressed is not None


def test_memory_forgets_triggers_older_than_its_horizon() -> None:
    config = PolicyConfig(memory=timedelta(days=1))
    state, _ = decide(AlertState(), trigger("exc-old", at=T0), config)
    state, _ = decide(state, trigger("exc-new", at=T0 + timedelta(days=2)), config)
    assert set(state.triggers) == {"exc-new"}
    assert set(state.kinds) == {"temp_high"}


def test_suppressed_alert_has_no_deliveries() -> None:
    state, _ = decide(AlertState(), trigger("exc-1", at=T0), CONFIG)
    outcome = handle_trigger(
        state,
        trigger("exc-2", at=T0 + timedelta(minutes=1)),
        recipients_for(shipment()),
        CONFIG,
        T0,
    )
    assert outcome.alerts[0].suppressed is not None
    assert outcome.deliveries == []


# --- found late --------------------------------------------------------------------------

NIGHT = datetime(2026, 11, 10, 6, 10, tzinfo=UTC)  # 02:10 in Halifax, 14:10 in Shanghai
FREEZE_AT = datetime(2026, 11, 10, 1, 30, tzinfo=UTC)


def _late(
    trigger_id: str = "exc-1",
    step: str = "opened",
    severity: str = "critical",
    start: datetime = FREEZE_AT,
    minutes: float | None = 20,
    revision: int = 1,
    found_late: bool = True,
    **extra: object,
) -> AlertTrigger:
    """A freeze step from a backlog: found late, with its start and (if ``minutes``) end."""
    end = start + timedelta(minutes=minutes) if minutes is not None else None
    base = trigger(trigger_id, step, severity, at=end or start + timedelta(minutes=6), kind="temp_low")  # type: ignore[arg-type]
    figures = base.figures.model_copy(
        update={"started_at": start, "ended_at": end, "duration_min": minutes, "peak_c": -2.5}
    )
    return base.model_copy(update={"figures": figures, "revision": revision, "found_late": found_late, **extra})


def _told(alerts: list[Alert]) -> list[tuple[str, str, bool, int]]:
    return [(a.trigger_id, a.step, a.found_late, a.version) for a in alerts if a.suppressed is None]


def test_found_late_open_is_announced_as_found_late_and_its_closing_follows() -> None:
    alerts = _run([_late(minutes=None), _late(step="closed", revision=2)])
    assert _told(alerts) == [("exc-1", "opened", True, 1), ("exc-1", "closed", False, 1)]
    assert alerts[0].figures.ended_at is None


def test_found_late_closed_is_announced_once_as_found_late_never_as_a_bare_closed() -> None:
    alerts = _run([_late(step="closed"), _late(step="closed")])
    assert _told(alerts) == [("exc-1", "opened", True, 1)]
    assert alerts[0].id == alert_id("exc-1", "opened")
    assert alerts[0].figures.ended_at == FREEZE_AT + timedelta(minutes=20)


def test_first_sight_closed_is_found_late_even_without_the_arrival_lag() -> None:
    # Nobody heard it open: whatever the cause, its first news must say it happened.
    alerts = _run([_late(step="closed", found_late=False)])
    assert _told(alerts) == [("exc-1", "opened", True, 1)]


def test_an_unpaired_at_risk_recovery_is_not_an_excursion_found_late() -> None:
    alerts = _run([trigger("risk-1", "closed", kind="at_risk")])
    assert [(a.step, a.found_late) for a in alerts] == [("closed", False)]


def test_night_time_critical_found_late_reaches_both_by_sms_and_email_at_once() -> None:
    # Registered with no zones: the seller's +1 902 is Halifax (02:10, quiet hours), the
    # buyer's +86 Shanghai (14:10). Critical news goes at once to both, on both channels.
    outcome = handle_trigger(AlertState(), _late(step="closed"), recipients_for(contract_shipment()), CONFIG, NIGHT)
    [alert] = outcome.alerts
    assert alert.found_late and alert.hold_until == NIGHT + CONFIG.found_late_hold
    planned = {(d.role, d.channel): d for d in outcome.deliveries}
    assert set(planned) == {(r, c) for r in ("seller", "buyer") for c in ("email", "sms")}
    assert {d.not_before for d in planned.values()} == {alert.hold_until}
    assert planned[("seller", "sms")].timezone == "America/Halifax"
    assert planned[("buyer", "sms")].timezone == "Asia/Shanghai"


def test_a_warning_found_late_at_night_still_waits_for_the_morning() -> None:
    outcome = handle_trigger(
        AlertState(), _late(step="closed", severity="warning"), recipients_for(contract_shipment()), CONFIG, NIGHT
    )
    planned = {d.role: d.not_before for d in outcome.deliveries}
    assert set(planned) == {"seller", "buyer"}  # email only
    assert planned["seller"].astimezone(HALIFAX).time() == time(7, 0)
    assert planned["buyer"] == NIGHT + CONFIG.found_late_hold


def _handle_all(triggers: list[tuple[AlertTrigger, datetime]]) -> tuple[list[Alert], list]:
    """Every alert raised, and the deliveries planned by the last step."""
    state, alerts, deliveries = AlertState(), [], []
    recipients = recipients_for(contract_shipment())
    for t, now in triggers:
        outcome = handle_trigger(state, t, recipients, CONFIG, now)
        state = outcome.state
        alerts += outcome.alerts
        deliveries = outcome.deliveries or deliveries
    return alerts, deliveries


def test_while_held_later_steps_refine_the_announcement_in_place() -> None:
    second = NIGHT + timedelta(seconds=1)
    alerts, deliveries = _handle_all(
        [
            (_late(minutes=None, severity="warning"), NIGHT),  # first partial view: open, warning
            (_late(step="escalated", minutes=None, revision=2), second),
            (_late(step="updated", minutes=25, revision=3), second),
            (_late(step="closed", minutes=20, revision=4), second),
        ]
    )
    assert [(a.id, a.version) for a in alerts] == [(alerts[0].id, v) for v in (1, 2, 3, 4)]
    final = alerts[-1]
    assert final.found_late and final.step == "opened" and final.severity == "critical"
    assert final.figures.ended_at == FREEZE_AT + timedelta(minutes=20)
    # Once critical, SMS joins and the seller's email no longer waits for 07:00 Halifax.
    plan = {(d.role, d.channel): d.not_before for d in deliveries}
    assert set(plan) == {(r, c) for r in ("seller", "buyer") for c in ("email", "sms")}
    assert set(plan.values()) == {final.hold_until}


def test_while_held_the_announcement_follows_the_latest_view_down_as_well() -> None:
    # A sparse first view of a shuffled backlog looked critical; the whole backlog says warning.
    second = NIGHT + timedelta(seconds=1)
    alerts, deliveries = _handle_all(
        [
            (_late(step="closed", severity="critical"), NIGHT),
            (_late(step="updated", severity="warning", revision=2), second),
        ]
    )
    assert [(a.version, a.severity) for a in alerts] == [(1, "critical"), (2, "warning")]
    plan = {(d.role, d.channel): d.not_before for d in deliveries}
    assert set(plan) == {("seller", "email"), ("buyer", "email")}  # no SMS for a warning
    assert plan[("seller", "email")].astimezone(HALIFAX).time() == time(7, 0)  # quiet hours again


def test_a_step_after_the_hold_is_told_as_itself() -> None:
    late = NIGHT + CONFIG.found_late_hold - HOLD_MARGIN
    alerts, _ = _handle_all([(_late(minutes=None), NIGHT), (_late(step="closed", revision=2), late)])
    assert _told(alerts) == [("exc-1", "opened", True, 1), ("exc-1", "closed", False, 1)]


def test_rescored_while_held_the_successor_refines_the_one_announcement() -> None:
    moved = FREEZE_AT - timedelta(minutes=4)
    soon = NIGHT + timedelta(seconds=2)
    alerts, _ = _handle_all(
        [
            (_late("exc-a", step="closed", start=FREEZE_AT + timedelta(minutes=4), minutes=40), NIGHT),
            (_late("exc-a", step="closed", revision=2, retracted=True, superseded_by="exc-b"), soon),
            (_late("exc-b", step="closed", start=moved, minutes=24), soon),
        ]
    )
    assert _told(alerts) == [("exc-a", "opened", True, 1), ("exc-a", "opened", True, 2)]
    assert alerts[-1].figures.started_at == moved and alerts[-1].figures.duration_min == 24


def test_rescored_after_it_was_sent_the_successor_is_not_announced_again() -> None:
    later = NIGHT + timedelta(minutes=5)  # the second upload, after the announcement went
    alerts, deliveries = _handle_all(
        [
            (_late("exc-a", step="closed"), NIGHT),
            (_late("exc-a", step="closed", revision=2, retracted=True, superseded_by="exc-b"), later),
            (_late("exc-b", step="closed", start=FREEZE_AT - timedelta(minutes=6), minutes=26), later),
        ]
    )
    assert _told(alerts) == [("exc-a", "opened", True, 1)]
    assert {d.alert_id for d in deliveries} == {alerts[0].id}


def test_retracted_while_held_with_no_successor_withdraws_the_announcement() -> None:
    alerts, deliveries = _handle_all(
        [
            (_late(step="closed"), NIGHT),
            (_late(step="closed", revision=2, retracted=True), NIGHT + timedelta(seconds=1)),
        ]
    )
    assert [(a.version, a.suppressed is None) for a in alerts] == [(1, True), (2, False)]
    assert "withdrawn" in (alerts[-1].suppressed or "")
    assert all(d.alert_id == alerts[0].id for d in deliveries)  # the withdrawal plans none


def test_an_open_successor_of_one_told_as_ended_is_a_correction() -> None:
    alerts = _run(
        [
            _late("exc-a", step="closed"),
            _late("exc-a", step="closed", revision=2, retracted=True, superseded_by="exc-b"),
            _late("exc-b", step="opened", start=FREEZE_AT - timedelta(minutes=5), minutes=None),
        ]
    )
    assert _told(alerts) == [("exc-a", "opened", True, 1), ("exc-b#1", "opened", False, 1)]


def test_a_successor_inherits_the_severity_its_predecessor_was_told_at() -> None:
    alerts = _run(
        [
            trigger("exc-a", "opened", at=T0),
            trigger("exc-a", "escalated", "critical", at=T0 + timedelta(minutes=5)),
            trigger("exc-a", "closed").model_copy(update={"retracted": True, "superseded_by": "exc-b"}),
            trigger("exc-b", "closed", "warning", at=T0 + timedelta(minutes=30)),
        ]
    )
    closing = alerts[-1]
    assert (closing.trigger_id, closing.step, closing.suppressed) == ("exc-b", "closed", None)
    assert closing.severity == "critical"  # reaches the phones its escalation reached
