from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.eta import EtaUpdate
from schemas.excursion import ExcursionEvent, ExcursionLimits
from services.alerts.policy import (
    AlertState,
    PolicyConfig,
    decide,
    lifecycle_id,
    plan_deliveries,
    recipients_for,
)
from services.alerts.sources import trigger_from_eta, trigger_from_excursion, trigger_from_viability
from services.alerts.trigger import AlertTrigger
from tests.unit.alerts.factories import shipment

T0 = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
LIMITS = ExcursionLimits(
    profile="live-lobster",
    nominal_low_c=0.0,
    nominal_high_c=5.0,
    nominal_delay_min=15,
    critical_low_c=-1.0,
    critical_high_c=10.0,
    critical_delay_min=5,
    humidity_low_pct=70.0,
    humidity_delay_min=30,
    hysteresis_c=0.5,
    hysteresis_pct=2.0,
    close_after_min=5,
    silence_after_min=30,
)


def _excursion(step: str, revision: int, **extra: Any) -> ExcursionEvent:
    fields: dict[str, Any] = {
        "id": "exc-a",
        "shipment_id": "SHP-1",
        "device_id": "TRK-1",
        "kind": "temp_high",
        "severity": "warning",
        "started_at": T0,
        "peak_c": 7.5,
        "degree_minutes": 30.0,
        "profile": "live-lobster",
        "revision": revision,
        "step": step,
        "event_time": T0 + timedelta(minutes=revision),
        "limits": LIMITS,
    }
    fields.update(extra)
    return ExcursionEvent.model_validate(fields)


def _eta(kind: str, reasons: list[str], episode: str | None = "risk-1", **extra: Any) -> EtaUpdate:
    return EtaUpdate.model_validate(
        extra | {
            "id": f"eta-{kind}",
            "shipment_id": "SHP-1",
            "kind": kind,
            "event_time": T0,
            "eta": T0 + timedelta(hours=30),
            "deliver_by": T0 + timedelta(hours=24),
            "phase": "moving",
            "leg_index": 0,
            "leg_name": "YHZ -> PVG",
            "legs": [],
            "remaining_km": 11000.0,
            "viability_used_h": 20.0,
            "viability_remaining_at_eta_h": -2.0,
            "at_risk": kind == "at_risk",
            "risk_reasons": reasons,
            "risk_episode_id": episode,
        }
    )


def _triggers(events: list[ExcursionEvent]) -> list[AlertTrigger]:
    return [t for t in map(trigger_from_excursion, events) if t is not None]


def _run(triggers: list[AlertTrigger]) -> list[tuple[str, str, bool]]:
    state = AlertState()
    out: list[tuple[str, str, bool]] = []
    for t in triggers:
        state, alerts = decide(state, t, PolicyConfig())
        out += [(a.trigger_id, a.step, a.suppressed is None) for a in alerts]
    return out


def test_excursion_event_maps_to_a_trigger_with_the_limits_of_its_severity() -> None:
    warning = trigger_from_excursion(_excursion("opened", 1))
    critical = trigger_from_excursion(_excursion("escalated", 2, severity="critical"))
    assert warning is not None and critical is not None
    assert (warning.trigger_id, warning.step, warning.revision) == ("exc-a", "opened", 1)
    assert (warning.figures.low_limit, warning.figures.high_limit) == (0.0, 5.0)
    assert (critical.figures.low_limit, critical.figures.high_limit) == (-1.0, 10.0)
    assert warning.figures.peak_c == 7.5 and warning.figures.device_id == "TRK-1"
    assert warning.event_time == T0 + timedelta(minutes=1)


def test_humidity_excursion_carries_the_humidity_limit() -> None:
    trig = trigger_from_excursion(_excursion("opened", 1, kind="humidity_low", peak_c=None, peak_humidity_pct=55.0))
    assert trig is not None
    assert (trig.figures.low_limit, trig.figures.high_limit) == (70.0, None)
    assert trig.figures.humidity_pct == 55.0


def test_updated_steps_are_no_alerts_on_their_own() -> None:
    # Was None; an "updated" now reaches the policy so it can refine a held found-late
    # announcement, and otherwise tells nobody.
    updated = trigger_from_excursion(_excursion("updated", 2))
    assert updated is not None and updated.step == "updated"
    assert _run(_triggers([_excursion("opened", 1), _excursion("updated", 2)])) == [("exc-a", "opened", True)]


def test_a_step_from_readings_that_arrived_15_min_late_or_more_is_found_late() -> None:
    at = T0 + timedelta(minutes=1)  # the event time of revision 1
    late = trigger_from_excursion(_excursion("opened", 1, received_at=at + timedelta(minutes=15)))
    live = trigger_from_excursion(_excursion("opened", 1, received_at=at + timedelta(minutes=2)))
    assert late is not None and late.found_late
    assert late.figures.received_at == at + timedelta(minutes=15)
    assert live is not None and not live.found_late
    # A few seconds out of order re-scores too, but is not a backlog.
    rescored = trigger_from_excursion(_excursion("opened", 1, found_late=True, received_at=at + timedelta(seconds=5)))
    assert rescored is not None and not rescored.found_late
    stricter = trigger_from_excursion(
        _excursion("opened", 1, received_at=at + timedelta(minutes=3)), found_late_after=timedelta(minutes=2)
    )
    assert stricter is not None and stricter.found_late


def test_without_an_arrival_time_the_processors_found_late_is_taken() -> None:
    older = trigger_from_excursion(_excursion("opened", 1, found_late=True))
    assert older is not None and older.found_late


def test_sensor_silence_is_never_found_late_by_lag() -> None:
    silent = _excursion("opened", 1, kind="sensor_silent", peak_c=None, received_at=T0 + timedelta(hours=3))
    trig = trigger_from_excursion(silent)
    assert trig is not None and not trig.found_late


def test_closed_excursion_figures_carry_its_duration() -> None:
    end = T0 + timedelta(minutes=20)
    trig = trigger_from_excursion(_excursion("closed", 3, ended_at=end, duration_min=20.0))
    assert trig is not None and (trig.figures.ended_at, trig.figures.duration_min) == (end, 20.0)


def test_a_backlog_first_seen_closed_is_announced_as_found_late() -> None:
    landed = T0 + timedelta(hours=4)
    closed = _excursion("closed", 1, ended_at=T0 + timedelta(minutes=20), found_late=True, received_at=landed)
    assert _run(_triggers([closed])) == [("exc-a", "opened", True)]


def test_replayed_revisions_change_nothing() -> None:
    events = [_excursion("opened", 1), _excursion("updated", 2), _excursion("closed", 3)]
    assert _run(_triggers(events + events)) == [("exc-a", "opened", True), ("exc-a", "closed", True)]


def test_reopened_excursion_starts_a_new_lifecycle_with_new_alert_ids() -> None:
    events = [
        _excursion("opened", 1),
        _excursion("closed", 2),
        _excursion("reopened", 3),
        _excursion("closed", 4),
    ]
    reopened = lifecycle_id("exc-a", 1)
    assert _run(_triggers(events)) == [
        ("exc-a", "opened", True),
        ("exc-a", "closed", True),
        (reopened, "opened", True),
        (reopened, "closed", True),
    ]


def test_retracted_excursion_hands_what_was_told_to_its_successor() -> None:
    opened_a = _excursion("opened", 1)
    retract_a = _excursion("retracted", 2, superseded_by="exc-b")
    opened_b = _excursion("opened", 1, id="exc-b", started_at=T0 - timedelta(minutes=20))
    closed_b = _excursion("closed", 5, id="exc-b", started_at=T0 - timedelta(minutes=20))
    assert _run(_triggers([opened_a, retract_a, opened_b, closed_b])) == [
        ("exc-a", "opened", True),
        ("exc-a", "closed", False),  # closes quietly: exc-b goes on
        ("exc-b", "closed", True),  # exc-b's opening was already told as exc-a's
    ]


def test_retraction_without_successor_tells_those_who_heard_of_it() -> None:
    out = _run(_triggers([_excursion("opened", 1), _excursion("retracted", 2)]))
    assert out == [("exc-a", "opened", True), ("exc-a", "closed", True)]


def test_closing_reaches_everyone_its_escalation_reached() -> None:
    state, _ = decide(AlertState(), trigger_from_excursion(_excursion("opened", 1)), PolicyConfig())  # type: ignore[arg-type]
    esc = trigger_from_excursion(_excursion("escalated", 2, severity="critical"))
    state, _ = decide(state, esc, PolicyConfig())  # type: ignore[arg-type]
    closed = trigger_from_excursion(_excursion("closed", 3, severity="warning"))
    _, alerts = decide(state, closed, PolicyConfig())  # type: ignore[arg-type]
    assert alerts[0].severity == "critical"


def test_eta_at_risk_and_recovered_form_one_episode() -> None:
    at_risk = trigger_from_eta(_eta("at_risk", ["late", "viability"]))
    recovered = trigger_from_eta(_eta("recovered", []))
    assert at_risk is not None and recovered is not None
    assert (at_risk.kind, at_risk.step, at_risk.severity) == ("at_risk", "opened", "critical")
    assert recovered.step == "closed" and recovered.trigger_id == at_risk.trigger_id
    assert at_risk.figures.viability_left_h == -2.0
    assert len(at_risk.figures.reasons) == 2
    late_only = trigger_from_eta(_eta("at_risk", ["late"]))
    assert late_only is not None and late_only.severity == "warning"
    assert trigger_from_eta(_eta("eta", [])) is None


def _lost(at_hours: float, kind: str = "viability") -> EtaUpdate:
    return _eta(kind, [], None, id=f"eta-lost-{at_hours}", event_time=T0 + timedelta(hours=at_hours),
                viability_state="lost", viability_lost_at=T0 - timedelta(hours=2),
                viability_lost_reason="freezing")


def test_a_lost_shipment_is_one_critical_alert_told_at_once_at_night() -> None:
    lost = trigger_from_viability(_lost(0))
    assert lost is not None
    assert (lost.kind, lost.step, lost.severity) == ("viability_lost", "opened", "critical")
    assert lost.figures.lost_at == T0 - timedelta(hours=2) and "frozen" in lost.figures.reasons[0]
    # A viability change is not an at-risk step (it must not read as a recovery).
    assert trigger_from_eta(_lost(0)) is None
    # Every later update of the lost shipment, whatever its kind, maps to the same step: told once.
    later = [trigger_from_viability(_lost(h, kind)) for h, kind in ((1, "eta"), (30, "at_risk"))]
    assert {t.trigger_id for t in later if t} == {lost.trigger_id}
    assert _run([lost, *(t for t in later if t)]) == [(lost.trigger_id, "opened", True)]
    state, alerts = decide(AlertState(), lost, PolicyConfig())
    night = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai, 11:00 in Halifax
    planned = plan_deliveries(alerts[0], recipients_for(shipment()), PolicyConfig(), night)
    assert {(d.role, d.channel) for d in planned} >= {("buyer", "sms"), ("seller", "sms")}
    assert all(d.not_before == night for d in planned)


def test_a_shipment_not_lost_raises_no_viability_alert() -> None:
    assert trigger_from_viability(_eta("viability", [], None, viability_state="compromised")) is None
    assert trigger_from_viability(_eta("at_risk", ["viability"])) is None
