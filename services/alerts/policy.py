"""Who hears what, on which channel, and when: the pure alert policy.

Two steps, both pure and event-time based:

- ``decide(state, trigger, config) -> (state, alerts)`` turns one trigger step into at
  most one ``Alert``: a step already seen (or overtaken by a later one) yields nothing,
  and a step of a flapping trigger yields a *suppressed* alert that no one is told of.
  The first step anyone hears of an excursion says that it happened: one revealed by a
  late backlog, or first seen already closed, is told once as *found late*, never as a
  bare "ended". A shuffled backlog shows an excursion in stages (re-scored as readings
  fill in, retracted in favour of one that started earlier), so the announcement is held
  for ``found_late_hold`` and every later step of the same excursion refines it in place
  until it goes. What people were told passes to the excursion that replaces a retracted
  one, so a re-scored backlog never announces the same excursion twice.
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
from schemas.shipment import DEFAULT_LANGUAGE, Party, PartyZone, Shipment, ShipmentIn, TimezoneSource
from services.alerts.channel_set import CHANNELS, QUIET_CHANNELS
from services.alerts.ids import alert_id, delivery_id
from services.alerts.trigger import AlertTrigger
from services.alerts.zones import shipment_zones
from services.i18n.language import N_


class ChannelRule(BaseModel):
    """``role`` hears alerts of at least ``min_severity`` on ``channel`` (``COLDCHAIN_ALERT_ROUTES``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    channel: ChannelName
    min_severity: Severity


DEFAULT_CHANNEL_RULES: tuple[ChannelRule, ...] = (
    ChannelRule(role="seller", channel="email", min_severity="warning"),
    ChannelRule(role="seller", channel="sms", min_severity="critical"),
    ChannelRule(role="buyer", channel="email", min_severity="warning"),
    ChannelRule(role="buyer", channel="sms", min_severity="critical"),
    # Only recipients with a webhook get these (a party's own, or the deployment's for ops).
    ChannelRule(role="seller", channel="webhook", min_severity="warning"),
    ChannelRule(role="buyer", channel="webhook", min_severity="warning"),
    ChannelRule(role="ops", channel="webhook", min_severity="warning"),
)


@dataclass(frozen=True)
class QuietHours:
    """A daily window in each recipient's own time zone; ``start == end`` means none."""

    start: time = time(22, 0)
    end: time = time(7, 0)
    channels: frozenset[ChannelName] = frozenset(QUIET_CHANNELS)


@dataclass(frozen=True)
class PolicyConfig:
    channel_rules: tuple[ChannelRule, ...] = DEFAULT_CHANNEL_RULES
    quiet_hours: QuietHours = field(default_factory=QuietHours)
    # Within this event-time window, a trigger of the same kind on the same shipment that is
    # no more severe than the last one told is not told again (opened/closed storms).
    flap_window: timedelta = timedelta(minutes=30)
    default_timezone: str = "UTC"
    # How long the per-shipment memory keeps a trigger after its last step (event time).
    memory: timedelta = timedelta(days=7)
    # A found-late announcement waits this long (processing time) for the rest of the
    # backlog to be scored, so it tells the excursion's final start, end and peak.
    found_late_hold: timedelta = timedelta(seconds=30)


# A held announcement is refined only this long before it is due: later, the dispatcher
# may be sending it, and the refinement would not reach everyone.
HOLD_MARGIN = timedelta(seconds=5)


@dataclass(frozen=True)
class Recipient:
    role: Role
    name: str
    email: str | None = None
    phone: str | None = None
    timezone: str | None = None
    timezone_source: TimezoneSource = "default"
    language: str = DEFAULT_LANGUAGE
    webhook_url: str | None = None
    webhook_secret_ref: str | None = None  # names the signing secret; never the secret

    def address_for(self, channel: ChannelName) -> str | None:
        return CHANNELS[channel].address(self)

    def secret_ref_for(self, channel: ChannelName) -> str | None:
        return CHANNELS[channel].secret_ref(self)


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
    timezone_source: TimezoneSource = "default"  # where ``timezone`` came from
    language: str = DEFAULT_LANGUAGE  # what the recipient reads (BCP 47), for formatting
    secret_ref: str | None = None  # webhook: which secret signs it


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
    # Its steps were handed over from a retracted predecessor, before any event of its own.
    inherited: bool = False
    # Its found-late announcement while held (not sent yet): later steps refine it.
    announcement: Alert | None = None


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


def decide(
    state: AlertState, trigger: AlertTrigger, config: PolicyConfig, now: datetime | None = None
) -> tuple[AlertState, list[Alert]]:
    """One trigger step -> at most one alert (possibly suppressed, or the refinement of a
    held found-late announcement), and the new memory. ``now`` (processing time) starts
    and ends the hold of found-late announcements; without it they are not held."""
    memory = state.triggers.get(trigger.trigger_id)
    if _is_replay(memory, trigger):
        return state, []
    if memory is not None and _holding(memory, now):
        return _refine(state, memory, trigger, config)
    if trigger.step == "updated":
        return state, []  # only the figures moved: nobody is told
    if trigger.retracted:
        return _retract(state, memory, trigger, config)
    if _found_late_news(memory, trigger):
        return _announce(state, trigger, config, now)
    correction = False  # a reopening of a closing people heard of: they must hear it
    if memory is not None and _reopens(memory, trigger):
        correction = not memory.muted
        memory = memory.model_copy(
            update={
                "steps": (),
                "muted": False,
                "generation": memory.generation + 1,
                "severity": "warning",
                "inherited": False,
            }
        )
    step = _alert_step(trigger)
    if memory is not None and _already_covered(memory.steps, step):
        return state, []
    if step == "closed" and memory is not None:
        trigger = trigger.model_copy(update={"severity": _max_severity(trigger, memory)})
    suppressed = None if correction else _suppression(memory, state.kinds.get(trigger.kind), trigger, config)
    alert = _alert(trigger, memory, step, suppressed, trigger.figures)
    return _remember(state, memory, trigger, suppressed, config), [alert]


def _alert_step(trigger: AlertTrigger) -> AlertStep:
    if trigger.step == "updated":  # decide() returns before; this keeps the types honest
        raise ValueError("an 'updated' trigger is no alert step")
    return trigger.step


def _reopens(memory: TriggerMemory, trigger: AlertTrigger) -> bool:
    """Late data shows a closing people may have heard of had not ended: its own
    ``reopened``, or an open successor of an excursion that was told as closed."""
    if "closed" not in memory.steps:
        return False
    return trigger.reopened or (memory.inherited and trigger.step != "closed")


def _found_late_news(memory: TriggerMemory | None, trigger: AlertTrigger) -> bool:
    """The first anyone hears of an excursion, and it is news from the past: revealed by a
    late backlog, or first seen already closed (so nobody heard it open)."""
    if memory is not None or trigger.kind == "at_risk":  # an unpaired recovery is no excursion
        return False
    return trigger.found_late or trigger.step == "closed"


# --- found-late announcements --------------------------------------------------------


def _announce(
    state: AlertState, trigger: AlertTrigger, config: PolicyConfig, now: datetime | None
) -> tuple[AlertState, list[Alert]]:
    """The excursion's first news, as found late: step "opened" even when it is over (the
    figures say so), so its later "escalated" / "closed" remain steps of their own."""
    suppressed = _suppression(None, state.kinds.get(trigger.kind), trigger, config, found_late=True)
    hold = now + config.found_late_hold if now is not None and config.found_late_hold and not suppressed else None
    alert = _alert(trigger, None, "opened", suppressed, trigger.figures).model_copy(
        update={"found_late": True, "hold_until": hold}
    )
    memory = TriggerMemory(
        steps=_told_by(alert, trigger),
        muted=suppressed is not None,
        last_event_time=trigger.event_time,
        revision=trigger.revision,
        severity=trigger.severity,
        announcement=alert if hold else None,
    )
    told = None if suppressed else KindMemory(told_at=trigger.event_time, told_severity=trigger.severity)
    return _put(state, trigger.trigger_id, memory, trigger.kind, told, config), [alert]


def _told_by(alert: Alert, trigger: AlertTrigger) -> tuple[AlertStep, ...]:
    """The steps a found-late announcement tells: it happened, how bad, whether it ended
    (as of ``trigger``, the step it was last made from)."""
    steps: list[AlertStep] = ["opened"]
    if alert.severity == "critical":
        steps.append("escalated")
    if trigger.step == "closed" or trigger.figures.ended_at is not None:
        steps.append("closed")
    return tuple(steps)


def _holding(memory: TriggerMemory, now: datetime | None) -> bool:
    held = memory.announcement
    if held is None or held.hold_until is None or now is None:
        return False
    return now < held.hold_until - HOLD_MARGIN


def _refine(
    state: AlertState, memory: TriggerMemory, trigger: AlertTrigger, config: PolicyConfig
) -> tuple[AlertState, list[Alert]]:
    """A later step of an excursion whose announcement is held: the announcement takes
    its figures and severity (same id, next version) and nothing else is told. Nobody has
    heard anything yet, so it follows the latest view, down as well as up (a sparse first
    view of a shuffled backlog can look worse than the whole)."""
    held = memory.announcement
    assert held is not None  # _holding() said so
    revision = max(r for r in (trigger.revision, memory.revision, 0) if r is not None) or None
    if trigger.retracted:
        gone = memory.model_copy(update={"announcement": None, "revision": revision})
        new_state = _put(state, trigger.trigger_id, gone, trigger.kind, None, config)
        if trigger.superseded_by:  # the successor carries the announcement on
            return _inherit(new_state, trigger.superseded_by, memory), []
        # Re-scoring removed it before anyone was told: the announcement is withdrawn.
        withdrawn = held.model_copy(
            update={"suppressed": "withdrawn before it was sent: late readings removed it", "version": held.version + 1}
        )
        muted = gone.model_copy(update={"muted": True})
        return _put(state, trigger.trigger_id, muted, trigger.kind, None, config), [withdrawn]
    severity = trigger.severity
    revised = held.model_copy(update={"severity": severity, "figures": trigger.figures, "version": held.version + 1})
    refined = memory.model_copy(
        update={
            "steps": _told_by(revised, trigger),
            "severity": severity,
            "revision": revision,
            "last_event_time": max(memory.last_event_time, trigger.event_time),
            "inherited": False,
            "announcement": revised,
        }
    )
    told = None
    if severity != held.severity:  # it is told at another severity now: flapping must know
        told = KindMemory(told_at=held.event_time, told_severity=severity)
    return _put(state, trigger.trigger_id, refined, trigger.kind, told, config), [revised]


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
    inherits what people were told, its closing too); with no successor, people told of
    it hear it ended."""
    successor = trigger.superseded_by
    if memory is not None and "closed" in memory.steps:
        new_state = _remember(state, memory, trigger, "retracted", config)
        # A found-late excursion told as closed, re-scored to start earlier: told already.
        return (_inherit(new_state, successor, memory) if successor else new_state), []
    told = memory is not None and not memory.muted
    if successor:
        suppressed: str | None = f"retracted: superseded by {successor}"
    elif told:
        suppressed = None
    else:
        suppressed = "retracted before anyone was told"
    figures = trigger.figures
    if suppressed is None:
        note = N_("withdrawn: late readings changed the picture")  # translated when it is shown
        figures = figures.model_copy(update={"reasons": (*figures.reasons, note)})
    alert = _alert(trigger, memory, "closed", suppressed, figures)
    closing = trigger.model_copy(update={"step": "closed"})
    new_state = _remember(state, memory, closing, suppressed, config)
    if successor and memory is not None:
        new_state = _inherit(new_state, successor, memory)
    return new_state, [alert]


def _inherit(state: AlertState, successor: str, memory: TriggerMemory) -> AlertState:
    """``memory`` is the predecessor's before its retraction: its steps are what was told
    (its closing only when it had really closed), so none of them is told again."""
    old = state.triggers.get(successor)
    if old is None:
        merged = TriggerMemory(
            steps=memory.steps,
            muted=memory.muted,
            last_event_time=memory.last_event_time,
            severity=memory.severity,
            inherited=True,
            announcement=memory.announcement,  # still held: the successor refines it
        )
    else:
        steps = tuple(sorted(set(old.steps) | set(memory.steps), key=STEP_ORDER.__getitem__))
        severity = memory.severity if SEVERITY_ORDER[memory.severity] > SEVERITY_ORDER[old.severity] else old.severity
        merged = old.model_copy(
            update={
                "steps": steps,
                "muted": old.muted and memory.muted,
                "severity": severity,
                "announcement": old.announcement or memory.announcement,
            }
        )
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
    found_late: bool = False,
) -> str | None:
    muted = memory is not None and memory.muted
    if trigger.step == "closed" and not found_late:  # a found-late closing is an opening too
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
    step = _alert_step(trigger)
    steps = (*(memory.steps if memory else ()), step)
    last = max(trigger.event_time, memory.last_event_time) if memory else trigger.event_time
    revisions = [r for r in (trigger.revision, memory.revision if memory else None) if r is not None]
    remembered = TriggerMemory(
        steps=steps,
        muted=suppressed is not None,
        last_event_time=last,
        revision=max(revisions) if revisions else None,
        generation=memory.generation if memory else 0,
        severity=_max_severity(trigger, memory) if memory else trigger.severity,
    )
    told = None
    if suppressed is None and step != "closed":
        told = KindMemory(told_at=trigger.event_time, told_severity=trigger.severity)
    return _put(state, trigger.trigger_id, remembered, trigger.kind, told, config)


def _put(
    state: AlertState,
    trigger_id: str,
    memory: TriggerMemory,
    kind: str,
    told: KindMemory | None,
    config: PolicyConfig,
) -> AlertState:
    """Stores one trigger's memory (and what its kind last told), forgetting what is older
    than the horizon."""
    triggers = {**state.triggers, trigger_id: memory}
    kinds = {**state.kinds, kind: told} if told is not None else dict(state.kinds)
    horizon = memory.last_event_time - config.memory
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
    new_state, alerts = decide(state, trigger, config, now)
    deliveries = [d for a in alerts for d in plan_deliveries(a, recipients, config, now)]
    return Outcome(new_state, alerts, deliveries)


# --- recipients and deliveries -------------------------------------------------------


def recipients_for(shipment: ShipmentIn, ops: Sequence[Recipient] = ()) -> list[Recipient]:
    """The shipment's seller and buyer, then the configured ops contacts.

    Their zones are the ones worked out at registration (what the API shows), or, on a
    record that predates those, worked out now the same way.
    """
    stored = shipment.party_zones if isinstance(shipment, Shipment) else None
    zones = stored or shipment_zones(shipment)
    return [
        _party("seller", shipment.seller, zones.seller),
        _party("buyer", shipment.buyer, zones.buyer),
        *ops,
    ]


def _party(role: Role, party: Party, zone: PartyZone) -> Recipient:
    return Recipient(
        role=role,
        name=party.name,
        email=str(party.email) if party.email else None,
        phone=party.phone,
        timezone=zone.timezone,
        timezone_source=zone.timezone_source,
        language=party.language,
        webhook_url=party.webhook.url if party.webhook else None,
        webhook_secret_ref=party.webhook.secret_ref if party.webhook else None,
    )


def overrides_quiet_hours(alert: Alert) -> bool:
    """Every step of critical news wakes people, its end too: an excursion found only in a
    landed backlog is told first as found late, and a freeze that is over still killed."""
    return alert.severity == "critical"


def plan_deliveries(
    alert: Alert, recipients: Sequence[Recipient], config: PolicyConfig, now: datetime
) -> list[PlannedDelivery]:
    """One delivery per (recipient address, channel) whose route admits the severity."""
    if alert.suppressed is not None:
        return []
    planned: dict[str, PlannedDelivery] = {}
    for recipient in recipients:
        for channel in _channels_for(recipient.role, alert.severity, config.channel_rules):
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


def _channels_for(role: Role, severity: Severity, rules: Sequence[ChannelRule]) -> list[ChannelName]:
    level = SEVERITY_ORDER[severity]
    found: list[ChannelName] = []
    for rule in rules:
        admitted = level >= SEVERITY_ORDER[rule.min_severity]
        if rule.role == role and admitted and rule.channel not in found:
            found.append(rule.channel)
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
    if alert.hold_until is not None and alert.hold_until > not_before:
        not_before = alert.hold_until  # a found-late announcement waits for the whole backlog
    # The zone the message is written in, recorded with where it came from.
    source: TimezoneSource = recipient.timezone_source if recipient.timezone else "default"
    return PlannedDelivery(
        id=delivery_id(alert.id, address, channel),
        alert_id=alert.id,
        role=recipient.role,
        channel=channel,
        address=address,
        recipient_name=recipient.name,
        timezone=recipient.timezone or config.default_timezone,
        not_before=not_before,
        timezone_source=source,
        language=recipient.language,
        secret_ref=recipient.secret_ref_for(channel),
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
