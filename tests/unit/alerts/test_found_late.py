"""Found-late excursions end to end over the real scorer: the night-time freeze of issue 19.

A live-lobster trip registered as the contract shows it (no zones given): a 40-minute
tarmac warning at YHZ, then a 20-minute freeze to -2.5 C in flight, which the tracker
uploads as a shuffled backlog on landing at 06:10 UTC (02:10 in Halifax, 14:10 in
Shanghai). The readings go through the excursion scorer one at a time, as the processor
scores them, and its events through the alert intake's pure steps; ``Outbox`` keeps what
the PostgreSQL outbox would (first version of an alert; a refinement, while nothing of
it was sent, replaces its body and its planned deliveries).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from schemas.alert import Alert
from schemas.reading import Reading
from schemas.shipment import ShipmentIn
from services.alerts.policy import AlertState, Outcome, PlannedDelivery, PolicyConfig, handle_trigger, recipients_for
from services.alerts.sources import trigger_from_excursion
from services.alerts.whereabouts import locate
from services.excursions.scoring import apply_readings, new_state
from services.profiles.catalog import load_profiles
from services.registry.limits import limits_for
from tests.unit.alerts.factories import contract_shipment

LIMITS = limits_for(load_profiles()["live-lobster"])
PACKED = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)
LANDED = datetime(2026, 11, 10, 6, 10, tzinfo=UTC)
FREEZE_START = datetime(2026, 11, 10, 1, 30, tzinfo=UTC)
FREEZE_END = datetime(2026, 11, 10, 1, 50, tzinfo=UTC)
CONFIG = PolicyConfig()  # quiet hours 22:00-07:00, found-late hold 30 s
STEP = timedelta(milliseconds=20)  # processing time per reading


def _reading(t: datetime, temp: float, received: datetime | None = None) -> Reading:
    return Reading(
        device_id="TRK-0001", time=t, shipment_id="SHP-2026-0001", temp_c=temp, received_at=received or t
    )


def _every_2_min(start: datetime, end: datetime) -> list[datetime]:
    return [start + timedelta(minutes=m) for m in range(0, int((end - start).total_seconds() // 60), 2)]


def live_tarmac() -> list[Reading]:
    """18:00-20:00 at YHZ, live; 6.5 C on the tarmac from 19:00 to 19:40."""
    warm = (PACKED + timedelta(hours=1), PACKED + timedelta(hours=1, minutes=40))
    times = _every_2_min(PACKED, PACKED + timedelta(hours=2))
    return [_reading(t, 6.5 if warm[0] <= t < warm[1] else 3.0) for t in times]


def flight_backlog(received: datetime = LANDED) -> list[Reading]:
    """20:00-06:00 in flight, uploaded on landing; -2.5 C from 01:30 to 01:50."""
    times = _every_2_min(PACKED + timedelta(hours=2), LANDED - timedelta(minutes=10))
    return [_reading(t, -2.5 if FREEZE_START <= t < FREEZE_END else 2.0, received) for t in times]


@dataclass
class Outbox:
    alerts: dict[str, Alert] = field(default_factory=dict)
    deliveries: dict[str, PlannedDelivery] = field(default_factory=dict)
    sent: set[str] = field(default_factory=set)  # alert ids with a delivery gone out
    retractions: int = 0

    def apply(self, outcome: Outcome) -> None:
        refused = set()
        for alert in outcome.alerts:
            if alert.version == 1:
                self.alerts.setdefault(alert.id, alert)
            elif alert.id in self.sent:
                refused.add(alert.id)
            else:
                self.alerts[alert.id] = alert
                self.deliveries = {k: d for k, d in self.deliveries.items() if d.alert_id != alert.id}
        for d in outcome.deliveries:
            if d.alert_id not in refused:
                self.deliveries.setdefault(d.id, d)

    def send_due(self, now: datetime) -> None:
        self.sent |= {d.alert_id for d in self.deliveries.values() if d.not_before <= now}

    def told(self, kind: str) -> list[Alert]:
        return [a for a in self.alerts.values() if a.kind == kind and a.suppressed is None]

    def planned(self, alert: Alert) -> dict[tuple[str, str], PlannedDelivery]:
        return {(d.role, d.channel): d for d in self.deliveries.values() if d.alert_id == alert.id}


def run_trip(
    chunks: list[list[Reading]], shipment: ShipmentIn, config: PolicyConfig = CONFIG
) -> Outbox:
    """Each chunk is scored reading by reading from its first reading's arrival on."""
    scored, policy, outbox = new_state("SHP-2026-0001"), AlertState(), Outbox()
    recipients = recipients_for(shipment)
    for chunk in chunks:
        now = chunk[0].received_at
        for reading in chunk:
            outbox.send_due(now)
            scored, events = apply_readings(scored, [reading], LIMITS)
            outbox.retractions += sum(e.step == "retracted" for e in events)
            for event in events:
                trigger = trigger_from_excursion(event)
                if trigger is not None:
                    outcome = handle_trigger(policy, locate(trigger, shipment), recipients, config, now)
                    policy = outcome.state
                    outbox.apply(outcome)
            now += STEP
    return outbox


def _shuffled(readings: list[Reading], seed: int | None) -> list[Reading]:
    if seed is not None:
        random.Random(seed).shuffle(readings)
    return readings


@pytest.mark.parametrize("seed", [None, 1, 2, 3, 4, 5, 6])
def test_night_time_freeze_in_a_shuffled_backlog_is_told_once_as_found_late_to_both_at_once(seed: int | None) -> None:
    outbox = run_trip([live_tarmac(), _shuffled(flight_backlog(), seed)], contract_shipment())
    [freeze] = outbox.told("temp_low")  # once, however the backlog was shuffled
    assert freeze.found_late and freeze.severity == "critical" and freeze.step == "opened"
    f = freeze.figures
    # The final picture, not the first partial one the shuffled backlog showed.
    assert (f.started_at, f.ended_at, f.duration_min, f.peak_c) == (FREEZE_START, FREEZE_END, 20.0, -2.5)
    assert f.received_at == LANDED
    assert f.place is not None and f.place.short == "flight YHZ->PVG" and f.place.timezone == "America/Halifax"
    planned = outbox.planned(freeze)
    assert set(planned) == {("seller", "email"), ("seller", "sms"), ("buyer", "email"), ("buyer", "sms")}
    # 02:10 in Halifax is inside the seller's quiet hours: critical goes at once anyway,
    # after the 30 s hold that lets the backlog settle (not at 07:00).
    assert {d.not_before for d in planned.values()} == {freeze.hold_until}
    assert freeze.hold_until is not None and freeze.hold_until - LANDED < timedelta(minutes=1)
    zones = {role: (d.timezone, d.timezone_source) for (role, _), d in planned.items()}
    assert zones == {"seller": ("America/Halifax", "phone"), "buyer": ("Asia/Shanghai", "phone")}


def test_the_live_tarmac_warning_is_told_opened_then_ended_and_not_as_found_late() -> None:
    outbox = run_trip([live_tarmac(), flight_backlog()], contract_shipment())
    steps = sorted((a.step, a.found_late) for a in outbox.told("temp_high"))
    assert steps == [("closed", False), ("opened", False)]


def test_shuffled_backlogs_do_exercise_retraction_in_favour_of_an_earlier_start() -> None:
    # The "not announced twice" cases above are only worth something if re-scoring really
    # moved the freeze's start (retracted, superseded_by) for some of the seeds.
    retracted = [run_trip([_shuffled(flight_backlog(), seed)], contract_shipment()).retractions for seed in (1, 3)]
    assert all(n > 0 for n in retracted)


@pytest.mark.parametrize("seed", [1, 3, 5])
def test_a_backlog_in_two_uploads_is_not_announced_twice(seed: int) -> None:
    # The second half arrives after the first announcement went out: re-scoring may move
    # the freeze's start (a new excursion id), which must not be told as news again.
    backlog = _shuffled(flight_backlog(), seed)
    half = len(backlog) // 2
    later = LANDED + timedelta(minutes=5)
    second = [r.model_copy(update={"received_at": later}) for r in backlog[half:]]
    outbox = run_trip([backlog[:half], second], contract_shipment())
    told = outbox.told("temp_low")
    announcements = [a for a in told if a.found_late]
    assert len(announcements) == 1
    # Anything told after it is a later step of the same excursion (it ended, it is
    # critical), never a second "it happened".
    assert all(a.step in ("escalated", "closed") for a in told if not a.found_late)


def test_without_a_booking_the_place_is_not_guessed() -> None:
    outbox = run_trip([_shuffled(flight_backlog(), 2)], contract_shipment(booked=False))
    [freeze] = outbox.told("temp_low")
    assert freeze.found_late and freeze.figures.place is None


def test_with_the_hold_switched_off_the_first_view_is_told_at_once() -> None:
    config = PolicyConfig(found_late_hold=timedelta(0))
    outbox = run_trip([flight_backlog()], contract_shipment(), config)  # in order: no re-scoring
    announcements = [a for a in outbox.told("temp_low") if a.found_late]
    assert len(announcements) == 1 and announcements[0].hold_until is None
    # In order, the freeze is critical at 01:36 (5 min beyond -1 C from 01:30): the 168th
    # reading of the backlog (20:00 + 2 min x 168), told as it is scored.
    assert {d.not_before for d in outbox.planned(announcements[0]).values()} == {LANDED + STEP * 168}
