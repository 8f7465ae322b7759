"""When an unacknowledged critical alert goes to ops: a pure rule over stored facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.alert import Alert, ChannelName
from services.alerts.policy import PlannedDelivery, PolicyConfig, Recipient, plan_to


@dataclass(frozen=True)
class EscalationCandidate:
    """What the outbox knows of an alert when deciding whether to escalate it."""

    alert: Alert
    raised_at: datetime  # when the service raised it (processing time, UTC)
    acknowledged: bool
    escalated: bool
    resolved: bool  # the same trigger has since closed


def escalation_due(candidate: EscalationCandidate, now: datetime, after: timedelta) -> bool:
    alert = candidate.alert
    return (
        alert.severity == "critical"
        and alert.step != "closed"
        and alert.suppressed is None
        and not candidate.acknowledged
        and not candidate.escalated
        and not candidate.resolved
        and now - candidate.raised_at >= after
    )


def plan_escalation(
    alert: Alert,
    ops: Sequence[Recipient],
    channels: Sequence[ChannelName],
    config: PolicyConfig,
    now: datetime,
) -> list[PlannedDelivery]:
    """Ops hear the alert on every given channel; a critical alert ignores quiet hours."""
    return plan_to(alert, ops, channels, config, now)
