"""Who hears what, on which channel, and when: the pure alert policy.

Two steps, both pure and event-time based:

- ``decide(state, trigger, config) -> (state, alerts)`` turns one trigger step into at
  most one ``Alert``: a step already seen (or overtaken by a later one) yields nothing,
  and a step of a flapping trigger yields a *suppressed* alert that no one is told of.
- ``plan_deliveries(alert, recipients, config, now)`` fans an alert out to recipients and
  channels by severity, and defers non-urgent deliveries past the recipient's quiet hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict

from schemas.alert import (
    SEVERITY_ORDER,
    STEP_ORDER,
    Alert,
    AlertFigures,
    AlertStep,
    ChannelName,
    Role,
    Severity,
)
from schemas.shipment import Party, ShipmentIn
from services.alerts.ids import alert_id, delivery_id
from services.alerts.trigger import AlertTrigger


class Route(BaseModel):
    """``role`` hears alerts of at least ``min_severity`` on ``channel``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    channel: ChannelName
    min_severity: Severity


DEFAULT_ROUTES: tuple[Route, ...] = (
    Route(role="seller", channel="email", min_severity="warning"),
    Route(role="seller", channel="sms", min_severity="critical"),
    Route(role="buyer", channel="email", min_severity="warning"),
    Route(role="buyer", channel="sms", min_severity="critical"),
)


@dataclass(frozen=True)
class QuietHours:
    """A daily window in each recipient's own time zone; ``start == end`` means none."""

    start: time = time(22, 0)
    end: time = time(7, 0)
    channels: frozenset[ChannelName] = frozenset({"email", "sms"})


@dataclass(frozen=True)
class PolicyConfig:
    routes: tuple[Route, ...] = DEFAULT_ROUTES
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    # Within this event-time window, a trigger of the same kind on the same shipment that is
    # no more severe than the last one told is not told again (opened/closed storms).
    flap_window: timedelta = timedelta(minutes=30)
    default_timezone: str = "UTC"
    # How long the per-shipment memory keeps a trigger after its last step (event time).
    memory: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class Recipient:
    role: Role
    name: str
    email: str | None = None
    phone: str | None = None
    timezone: str | None = None

    def address_for(self, channel: ChannelName) -> str | None:
        if channel == "email":
            return self.email.strip().lower() if self.email else None
        return self.phone


@dataclass(frozen=True)
class PlannedDelivery:
    id: str
    alert_id: str
    role: Role
    channel: ChannelName
    address: str
    recipient_name: str
    timezone: str | None  # the recipient's IANA zone, for local times in the message
    not_before: datetime  # UTC; later than "now" when deferred by quiet hours


# --- per-shipment memory -------------------------------------------------------------


class TriggerMemory(BaseModel):
    model_config = ConfigDict(frozen=True)

    steps: tuple[AlertStep, ...] = ()  # steps of the current generation
    muted: bool = False  # its opening was suppressed as flapping: keep its steps quiet
    last_event_time: datetime
    revision: int | None = None  # highest upstream revision applied
    generation: int = 0  # how many times it was reopened after closing
    severity: Severity = "warning"  # the highest of its steps, so a closing reaches
    # everyone its opening or escalation reached


class KindMemory(BaseModel):
    model_config = ConfigDict(frozen=True)

    told_at: datetime  # event time of the last opened/escalated alert someone was told of
    told_severity: Severity


class AlertState(BaseModel):
    """What the policy remembers about one shipment (stored as JSON by the outbox)."""

    model_config = ConfigDict(frozen=True)

    triggers: dict[str, TriggerMemory] = {}
    kinds: dict[str, KindMemory] = {}


def lifecycle_id(trigger_id: str, generation: int) -> str:
    """The id alerts carry as ``trigger_id``: a reopened trigger's steps are new alerts."""
    return trigger_id if generation == 0 else f"{trigger_id}#{generation}"


def decide(state: AlertState, trigger: AlertTrigger, config: PolicyConfig) -> tuple[AlertState, list[Alert]]:
    """One trigger step -> at most one alert (possibly suppressed), and the new memory."""
    memory = state.triggers.get(trigger.trigger_id)
    if _is_replay(memory, trigger):
        return state, []
    if trigger.retracted:
        return _retract(state, memory, trigger, config)
    correction = False  # a reopening of a closing people heard of: they must hear it
    if trigger.reopened and memory is not None and "closed" in memory.steps:
        correction = not memory.muted
        memory = memory.model_copy(
            update={"steps": (), "muted": False, "generation": memory.generation + 1, "severity": "warning"}
        )
    if memory is not None and _already_covered(memory.steps, trigger.step):
        return state, []
    if trigger.step == "closed" and memory is not None:
        trigger = trigger.model_copy(update={"severity": _max_severity(trigger, memory)})
    suppressed = None if correction else _suppression(memory, state.kinds.get(trigger.kind), trigger, config)
    alert = _alert(trigger, memory, trigger.step, suppressed, trigger.figures)
    return _remember(state, memory, trigger, suppressed, config), [alert]


def _max_severity(trigger: AlertTrigger, memory: TriggerMemory) -> Severity:
    if SEVERITY_ORDER[memory.severity] > SEVERITY_ORDER[trigger.severity]:
        return memory.severity
    return trigger.severity


def _is_replay(memory: TriggerMemory | None, trigger: AlertTrigger) -> bool:
    if memory is None or memory.revision is None or trigger.revision is None:
        return False
    return trigger.revision <= memory.revision


def _alert(
    trigger: AlertTrigger,
    memory: TriggerMemory | None,
    step: AlertStep,
    suppressed: str | None,
    figures: AlertFigures,
) -> Alert:
    lifecycle = lifecycle_id(trigger.trigger_id, memory.generation if memory else 0)
    return Alert(
        id=alert_id(lifecycle, step),
        trigger_id=lifecycle,
        shipment_id=trigger.shipment_id,
        kind=trigger.kind,
        step=step,
        severity=trigger.severity,
        event_time=trigger.event_time,
        figures=figures,
        suppressed=suppressed,
    )


def _retract(
    state: AlertState, memory: TriggerMemory | None, trigger: AlertTrigger, config: PolicyConfig
) -> tuple[AlertState, list[Alert]]:
    """A retracted trigger closes quietly when a successor took its place (the successor
    inherits what people were told); with no successor, people told of it hear it ended."""
    if memory is not None and "closed" in memory.steps:
        return _remember(state, memory, trigger, "retracted", config), []
    told = memory is not None and not memory.muted
    successor = trigger.superseded_by
    if successor:
        suppressed: str | None = f"retracted: superseded by {successor}"
    elif told:
        suppressed = None
    else:
        suppressed = "retracted before anyone was told"
    figures = trigger.figures
    if suppressed is None:
        note = "withdrawn: late readings changed the picture"
        figures = figures.model_copy(update={"reasons": (*figures.reasons, note)})
    alert = _alert(trigger, memory, "closed", suppressed, figures)
    closing = trigger.model_copy(update={"step": "closed"})
    new_state = _remember(state, memory, closing, suppressed, config)
    if successor and memory is not None:
        new_state = _inherit(new_state, successor, memory)
    return new_state, [alert]


def _inherit(state: AlertState, successor: str, memory: TriggerMemory) -> AlertState:
    inherited = tuple(s for s in memory.steps if s != "closed")
    old = state.triggers.get(successor)
    if old is None:
        merged = TriggerMemory(steps=inherited, muted=memory.muted, last_event_time=memory.last_event_time)
    else:
        steps = tuple(sorted(set(old.steps) | set(inherited), key=STEP_ORDER.__getitem__))
        merged = old.model_copy(update={"steps": steps, "muted": old.muted and memory.muted})
    return state.model_copy(update={"triggers": {**state.triggers, successor: merged}})


def _already_covered(seen: Iterable[AlertStep], step: AlertStep) -> bool:
    # A redelivered step, or one overtaken by a later step (an "opened" arriving after
    # the "closed" of the same excursion), tells nobody anything new.
    return any(STEP_ORDER[s] >= STEP_ORDER[step] for s in seen)


def _suppression(
    memory: TriggerMemory | None,
    kind: KindMemory | None,
    trigger: AlertTrigger,
    config: PolicyConfig,
) -> str | None:
    muted = memory is not None and memory.muted
    if trigger.step == "closed":
        return "its opening was not told (flapping)" if muted else None
    if trigger.step == "escalated" and memory is not None and not muted:
        return None  # the escalation of a trigger people already heard of is news
    if kind is None:
        return None
    # abs(): a late store-and-forward batch may put this event before the last one told.
    gap = abs(trigger.event_time - kind.told_at)
    not_more_severe = SEVERITY_ORDER[trigger.severity] <= SEVERITY_ORDER[kind.told_severity]
    if gap < config.flap_window and not_more_severe:
        minutes = int(gap.total_seconds() // 60)
        return f"flapping: a {kind.told_severity} {trigger.kind} alert was told {minutes} min apart"
    return None


def _remember(
    state: AlertState,
    memory: TriggerMemory | None,
    trigger: AlertTrigger,
    suppressed: str | None,
    config: PolicyConfig,
) -> AlertState:
    steps = (*(memory.steps if memory else ()), trigger.step)
    last = max(trigger.event_time, memory.last_event_time) if memory else trigger.event_time
    revisions = [r for r in (trigger.revision, memory.revision if memory else None) if r is not None]
    triggers = dict(state.triggers)
    triggers[trigger.trigger_id] = TriggerMemory(
        steps=steps,
        muted=suppressed is not None,
        last_event_time=last,
        revision=max(revisions) if revisions else None,
        generation=memory.generation if memory else 0,
        severity=_max_severity(trigger, memory) if memory else trigger.severity,
    )
    kinds = dict(state.kinds)
    if suppressed is None and trigger.step != "closed":
        kinds[trigger.kind] = KindMemory(told_at=trigger.event_time, told_severity=trigger.severity)
    horizon = last - config.memory
    return AlertState(
        triggers={k: v for k, v in triggers.items() if v.last_event_time >= horizon},
        kinds={k: v for k, v in kinds.items() if v.told_at >= horizon},
    )


@dataclass(frozen=True)
class Outcome:
    state: AlertState
    alerts: list[Alert]
    deliveries: list[PlannedDelivery]


def handle_trigger(
    state: AlertState,
    trigger: AlertTrigger,
    recipients: Sequence[Recipient],
    config: PolicyConfig,
    now: datetime,
) -> Outcome:
    """``decide`` then ``plan_deliveries``: everything one trigger step causes."""
    new_state, alerts = decide(state, trigger, config)
    deliveries = [d for a in alerts for d in plan_deliveries(a, recipients, config, now)]
    return Outcome(new_state, alerts, deliveries)


# --- recipients and deliveries -------------------------------------------------------


def recipients_for(shipment: ShipmentIn, ops: Sequence[Recipient] = ()) -> list[Recipient]:
    """The shipment's seller and buyer, then the configured ops contacts."""
    return [_party("seller", shipment.seller), _party("buyer", shipment.buyer), *ops]


def _party(role: Role, party: Party) -> Recipient:
    return Recipient(
        role=role,
        name=party.name,
        email=str(party.email) if party.email else None,
        phone=party.phone,
        timezone=party.timezone,
    )


def overrides_quiet_hours(alert: Alert) -> bool:
    """Every step of critical news wakes people, its end too: an excursion found only in a
    landed backlog may be told first as ended, and a freeze that is over still killed."""
    return alert.severity == "critical"


def plan_deliveries(
    alert: Alert, recipients: Sequence[Recipient], config: PolicyConfig, now: datetime
) -> list[PlannedDelivery]:
    """One delivery per (recipient address, channel) whose route admits the severity."""
    if alert.suppressed is not None:
        return []
    planned: dict[str, PlannedDelivery] = {}
    for recipient in recipients:
        for channel in _channels_for(recipient.role, alert.severity, config.routes):
            delivery = _delivery(alert, recipient, channel, config, now)
            if delivery is not None:
                # The same person as seller and buyer is told once per channel.
                planned.setdefault(delivery.id, delivery)
    return list(planned.values())


def plan_to(
    alert: Alert,
    recipients: Sequence[Recipient],
    channels: Iterable[ChannelName],
    config: PolicyConfig,
    now: datetime,
) -> list[PlannedDelivery]:
    """Deliveries of ``alert`` to ``recipients`` on fixed channels (used for escalation)."""
    planned: dict[str, PlannedDelivery] = {}
    for recipient in recipients:
        for channel in channels:
            delivery = _delivery(alert, recipient, channel, config, now)
            if delivery is not None:
                planned.setdefault(delivery.id, delivery)
    return list(planned.values())


def _channels_for(role: Role, severity: Severity, routes: Sequence[Route]) -> list[ChannelName]:
    level = SEVERITY_ORDER[severity]
    found: list[ChannelName] = []
    for route in routes:
        admitted = level >= SEVERITY_ORDER[route.min_severity]
        if route.role == role and admitted and route.channel not in found:
            found.append(route.channel)
    return found


def _delivery(
    alert: Alert,
    recipient: Recipient,
    channel: ChannelName,
    config: PolicyConfig,
    now: datetime,
) -> PlannedDelivery | None:
    address = recipient.address_for(channel)
    if address is None:
        return None
    not_before = now
    if not overrides_quiet_hours(alert) and channel in config.quiet_hours.channels:
        zone = recipient_zone(recipient.timezone, config.default_timezone)
        not_before = quiet_until(now, zone, config.quiet_hours) or now
    return PlannedDelivery(
        id=delivery_id(alert.id, address, channel),
        alert_id=alert.id,
        role=recipient.role,
        channel=channel,
        address=address,
        recipient_name=recipient.name,
        timezone=recipient.timezone,
        not_before=not_before,
    )


# --- quiet hours ---------------------------------------------------------------------


def recipient_zone(name: str | None, default: str) -> tzinfo:
    """The recipient's IANA zone; an unknown or missing name falls back to ``default``."""
    for candidate in (name, default):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return UTC


def is_quiet(local: time, quiet: QuietHours) -> bool:
    if quiet.start == quiet.end:
        return False
    if quiet.start < quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end  # the window crosses midnight


def quiet_until(now: datetime, zone: tzinfo, quiet: QuietHours) -> datetime | None:
    """The UTC end of the quiet period ``now`` falls in (in ``zone``), or None."""
    local = now.astimezone(zone)
    if not is_quiet(local.time().replace(tzinfo=None), quiet):
        return None
    day: date = local.date()
    end = _wall_clock(day, quiet.end, zone)
    if end <= now:
        end = _wall_clock(day + timedelta(days=1), quiet.end, zone)
    return end


def _wall_clock(day: date, at: time, zone: tzinfo) -> datetime:
    # Built from the calendar date, not "+24 h", so DST changes keep the local hour;
    # a wall time skipped by DST resolves to the offset before the change (PEP 495).
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
