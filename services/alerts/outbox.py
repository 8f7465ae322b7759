"""The alert outbox in PostgreSQL (psycopg 3, async): tables of ``0300_alerts.sql``.

Every write is keyed by a deterministic id and uses ``ON CONFLICT DO NOTHING``, so the
same event processed twice changes nothing. Deliveries move
``pending -> sending -> sent | pending (retry) | failed``; ``sending`` is a lease
(``claimed_until``) taken with ``FOR UPDATE SKIP LOCKED`` and committed *before* the
provider is called, so a crashed dispatcher's claims are retaken once the lease ends.

A found-late announcement is held a few seconds and refined in place while held (an
alert with ``version`` > 1): its body and its planned deliveries are replaced, but only
while none of them has been tried; once one has, the refinement is dropped (logged), so
no recipient gets two versions of the same alert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from schemas.alert import Alert, ChannelName, Role
from schemas.shipment import DEFAULT_LANGUAGE, TimezoneSource
from services.alerts.escalation import EscalationCandidate
from services.alerts.ids import ack_code, ack_token, ack_token_hash, share_link_id, share_token, token_matches
from services.alerts.policy import AlertState, Outcome, PlannedDelivery

if TYPE_CHECKING:
    from services.alerts.channel_set import Sent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimedDelivery:
    id: str
    alert: Alert
    role: Role
    channel: ChannelName
    address: str
    recipient_name: str
    timezone: str | None
    attempts: int  # including this one
    claim_token: str
    reclaimed: bool  # the previous claim expired mid-send: the provider may have it
    timezone_source: TimezoneSource | None = None
    language: str = DEFAULT_LANGUAGE  # what the recipient reads, for the formatting
    secret_ref: str | None = None  # webhook: the name of the secret that signs it
    raised_at: datetime | None = None  # when its alert was raised (for the time-to-send metric)


LINK_TTL = timedelta(days=14)  # when the shipment's deliver_by is not given
LINK_TTL_MIN = timedelta(days=2)  # a late alert's link still opens for a while


class AlertOutbox:
    def __init__(self, conninfo: str, ack_secret: bytes, max_connections: int = 4) -> None:
        self._conninfo = conninfo
        self._ack_secret = ack_secret
        self._max_connections = max_connections
        self._pool: AsyncConnectionPool | None = None

    async def start(self) -> None:
        pool = AsyncConnectionPool(self._conninfo, min_size=1, max_size=self._max_connections, open=False)
        await pool.open(wait=True)
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def connected(self) -> bool:
        """Its connection pool is open (for /readyz)."""
        return self._pool is not None and not self._pool.closed

    def _require_pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise RuntimeError("AlertOutbox.start() was not called")
        return self._pool

    # --- intake ----------------------------------------------------------------------

    async def apply(
        self, shipment_id: str, decide: Callable[[AlertState], Outcome], now: datetime,
        links_until: datetime | None = None,
    ) -> tuple[Outcome, list[str]]:
        """Run the pure ``decide`` on the shipment's policy memory, store what it produced.

        One transaction, with the memory row locked: the alerts, their deliveries and the
        new memory are committed together. Returns the outcome and the ids of alerts that
        were new (not already stored by an earlier delivery of the same event).
        """
        async with self._require_pool().connection() as conn, conn.transaction():
            state = await _lock_state(conn, shipment_id, now)
            outcome = decide(state)
            new_ids: list[str] = []
            refused: set[str] = set()
            for alert in outcome.alerts:
                if alert.version > 1:
                    if not await _refine_alert(conn, alert):
                        refused.add(alert.id)
                elif await self._insert_alert(conn, alert, now):
                    new_ids.append(alert.id)
            for delivery in outcome.deliveries:
                if delivery.alert_id not in refused:
                    await _insert_delivery(conn, delivery, now)
                    await self._insert_share_link(conn, shipment_id, delivery, now, links_until or now + LINK_TTL)
            await conn.execute(
                "UPDATE alert_policy_state SET state = %s, updated_at = %s WHERE shipment_id = %s",
                (Jsonb(outcome.state.model_dump(mode="json")), now, shipment_id),
            )
        return outcome, new_ids

    async def _insert_share_link(self, conn: AsyncConnection[Any], shipment_id: str, delivery: PlannedDelivery,
                                 now: datetime, until: datetime) -> None:
        """The page link the delivery carries (services/api/share_routes.py opens it)."""
        token_hash = ack_token_hash(share_token(delivery.id, self._ack_secret))
        await conn.execute(
            """
            INSERT INTO share_links (id, token_hash, shipment_id, party, recipient, channel, alert_id,
                                     delivery_id, created_at, created_by, expires_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'alerts', %s)
            ON CONFLICT DO NOTHING
            """,
            (share_link_id(token_hash), token_hash, shipment_id, delivery.role, delivery.address,
             delivery.channel, delivery.alert_id, delivery.id, now, max(until, now + LINK_TTL_MIN)),
        )

    async def _insert_alert(self, conn: AsyncConnection[Any], alert: Alert, now: datetime) -> bool:
        cursor = await conn.execute(
            """
            INSERT INTO alerts (id, trigger_id, step, shipment_id, kind, severity, event_time,
                                raised_at, suppressed, body, ack_code, ack_token_hash)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT DO NOTHING
            """,
            (
                alert.id,
                alert.trigger_id,
                alert.step,
                alert.shipment_id,
                alert.kind,
                alert.severity,
                alert.event_time,
                now,
                alert.suppressed,
                Jsonb(alert.model_dump(mode="json")),
                ack_code(alert.id, self._ack_secret),
                ack_token_hash(ack_token(alert.id, self._ack_secret)),
            ),
        )
        return cursor.rowcount == 1

    async def depth(self, now: datetime) -> tuple[dict[str, int], float]:
        """Deliveries by status, and how long the oldest due unsent one is overdue (seconds)."""
        async with self._require_pool().connection() as conn:
            counts: dict[str, int] = dict(await (await conn.execute(
                "SELECT status, count(*) FROM alert_deliveries GROUP BY status")).fetchall())
            row = await (await conn.execute(
                "SELECT min(next_attempt_at) FROM alert_deliveries WHERE status IN ('pending', 'sending')"
                " AND next_attempt_at <= %s", (now,))).fetchone()
        oldest = row[0] if row else None
        return counts, (now - oldest).total_seconds() if oldest else 0.0

    # --- dispatching -----------------------------------------------------------------

    async def claim_due(
        self,
        now: datetime,
        channels: Sequence[ChannelName],
        limit: int,
        claim_token: str,
        lease: timedelta,
    ) -> list[ClaimedDelivery]:
        """Take up to ``limit`` due deliveries (pending and due, or with an expired lease)."""
        if not channels:
            return []
        async with self._require_pool().connection() as conn, conn.transaction():
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                """
                WITH due AS (
                    SELECT id, status AS was
                    FROM alert_deliveries
                    WHERE channel = ANY(%(channels)s)
                      AND ((status = 'pending' AND next_attempt_at <= %(now)s)
                           OR (status = 'sending' AND claimed_until <= %(now)s))
                    ORDER BY next_attempt_at
                    LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE alert_deliveries AS d
                SET status = 'sending', attempts = d.attempts + 1,
                    claim_token = %(token)s, claimed_until = %(until)s
                FROM due, alerts AS a
                WHERE d.id = due.id AND a.id = d.alert_id
                RETURNING d.id, d.role, d.channel, d.address, d.recipient_name, d.timezone,
                          d.timezone_source, d.language, d.secret_ref, d.attempts, due.was, a.body,
                          a.raised_at
                """,
                {
                    "channels": list(channels),
                    "now": now,
                    "limit": limit,
                    "token": claim_token,
                    "until": now + lease,
                },
            )
            rows = await cursor.fetchall()
        return [
            ClaimedDelivery(
                id=row["id"],
                alert=Alert.model_validate(row["body"]),
                role=row["role"],
                channel=row["channel"],
                address=row["address"],
                recipient_name=row["recipient_name"],
                timezone=row["timezone"],
                attempts=row["attempts"],
                claim_token=claim_token,
                reclaimed=row["was"] == "sending",
                timezone_source=row["timezone_source"],
                language=row["language"] or DEFAULT_LANGUAGE,
                secret_ref=row["secret_ref"],
                raised_at=row["raised_at"],
            )
            for row in rows
        ]

    async def mark_sent(self, delivery: ClaimedDelivery, now: datetime, sent: Sent) -> bool:
        """``sent``: the provider's reference and, for an SMS, the encoding and segments sent."""
        sms = sent.sms
        return await self._finish(
            delivery,
            "status = 'sent', sent_at = %(now)s, provider_ref = %(ref)s, last_error = NULL,"
            " sms_encoding = %(encoding)s, sms_segments = %(segments)s",
            {
                "now": now,
                "ref": sent.provider_ref,
                "encoding": sms.encoding if sms else None,
                "segments": sms.segments if sms else None,
            },
        )

    async def mark_retry(self, delivery: ClaimedDelivery, next_attempt_at: datetime, error: str) -> bool:
        return await self._finish(
            delivery,
            "status = 'pending', next_attempt_at = %(next)s, last_error = %(error)s",
            {"next": next_attempt_at, "error": error},
        )

    async def mark_failed(self, delivery: ClaimedDelivery, error: str) -> bool:
        return await self._finish(delivery, "status = 'failed', last_error = %(error)s", {"error": error})

    async def _finish(self, delivery: ClaimedDelivery, assignments: str, params: dict[str, Any]) -> bool:
        # Only the holder of the claim may finish it; a stale holder's update is a no-op.
        query = (
            f"UPDATE alert_deliveries SET {assignments},"  # noqa: S608 - fixed fragments
            " claim_token = NULL, claimed_until = NULL"
            " WHERE id = %(id)s AND status = 'sending' AND claim_token = %(token)s"
        )
        async with self._require_pool().connection() as conn:
            cursor = await conn.execute(query, {**params, "id": delivery.id, "token": delivery.claim_token})
        return cursor.rowcount == 1

    # --- escalation and acknowledgement ----------------------------------------------

    async def escalate(
        self,
        now: datetime,
        after: timedelta,
        plan: Callable[[EscalationCandidate], list[PlannedDelivery] | None],
    ) -> list[Alert]:
        """Give ``plan`` every possibly-due critical alert; store the deliveries it returns
        and mark those alerts escalated (``plan`` returns None for one not yet due)."""
        escalated: list[Alert] = []
        async with self._require_pool().connection() as conn, conn.transaction():
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                """
                SELECT a.body, a.raised_at, a.acknowledged_at IS NOT NULL AS acknowledged,
                       a.escalated_at IS NOT NULL AS escalated,
                       EXISTS (SELECT 1 FROM alerts c
                               WHERE c.trigger_id = a.trigger_id AND c.step = 'closed')
                           AS resolved
                FROM alerts AS a
                WHERE a.severity = 'critical' AND a.acknowledged_at IS NULL
                  AND a.escalated_at IS NULL AND a.suppressed IS NULL AND a.step <> 'closed'
                  AND a.raised_at <= %s
                ORDER BY a.raised_at
                LIMIT 100
                FOR UPDATE OF a SKIP LOCKED
                """,
                (now - after,),
            )
            for row in await cursor.fetchall():
                candidate = EscalationCandidate(
                    alert=Alert.model_validate(row["body"]),
                    raised_at=row["raised_at"],
                    acknowledged=row["acknowledged"],
                    escalated=row["escalated"],
                    resolved=row["resolved"],
                )
                deliveries = plan(candidate)
                if deliveries is None:
                    continue
                for delivery in deliveries:
                    await _insert_delivery(conn, delivery, now)
                await conn.execute(
                    "UPDATE alerts SET escalated_at = %s WHERE id = %s",
                    (now, candidate.alert.id),
                )
                escalated.append(candidate.alert)
        return escalated

    async def acknowledge(self, alert_id: str, by: str, now: datetime) -> bool:
        """True if this call acknowledged the alert (False: unknown, or already done)."""
        async with self._require_pool().connection() as conn:
            return await acknowledge_alert(conn, alert_id, by, now)

    async def acknowledge_by_code(
        self, code: str, address: str, now: datetime, within: timedelta = timedelta(days=7)
    ) -> str | None:
        """An SMS reply "ACK CODE" from ``address`` (see ``acknowledge_by_reply``)."""
        async with self._require_pool().connection() as conn:
            return await acknowledge_by_reply(conn, code, address, now, within)

    async def alerts_for_shipment(self, shipment_id: str) -> list[dict[str, Any]]:
        """Alerts of a shipment, newest first, with their delivery states (for the API)."""
        async with self._require_pool().connection() as conn:
            return await shipment_alerts(conn, shipment_id)


# --- reads and acknowledgements on a caller's connection (the API shares these) -------


AlertKey = tuple[datetime, datetime, str]  # (event_time, raised_at, id): unique, the listing's order


async def shipment_alerts(conn: AsyncConnection[Any], shipment_id: str, limit: int | None = None,
                          after: AlertKey | None = None) -> list[dict[str, Any]]:
    """Alerts of a shipment, newest first, each with its deliveries; at most ``limit``, and
    only those after the key ``after`` (the last one already seen) when given."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        """
        SELECT a.body, a.raised_at, a.acknowledged_at, a.acknowledged_by,
               a.escalated_at,
               COALESCE(jsonb_agg(jsonb_build_object(
                   'role', d.role, 'channel', d.channel, 'status', d.status,
                   'attempts', d.attempts, 'sent_at', d.sent_at,
                   'last_error', d.last_error, 'acknowledged_at', d.acknowledged_at,
                   'not_before', d.not_before, 'deferred', COALESCE(d.not_before > d.created_at, false),
                   'next_attempt_at', d.next_attempt_at, 'created_at', d.created_at,
                   'timezone', d.timezone, 'timezone_source', d.timezone_source,
                   'language', d.language, 'sms_encoding', d.sms_encoding,
                   'sms_segments', d.sms_segments)
                   ORDER BY d.role, d.channel)
                 FILTER (WHERE d.id IS NOT NULL), '[]') AS deliveries
        FROM alerts AS a LEFT JOIN alert_deliveries AS d ON d.alert_id = a.id
        WHERE a.shipment_id = %(shipment)s
          AND (%(after_event)s::timestamptz IS NULL
               OR (a.event_time, a.raised_at, a.id) < (%(after_event)s, %(after_raised)s, %(after_id)s))
        GROUP BY a.id
        ORDER BY a.event_time DESC, a.raised_at DESC, a.id DESC
        LIMIT %(limit)s
        """,
        {"shipment": shipment_id, "limit": limit, "after_event": after[0] if after else None,
         "after_raised": after[1] if after else None, "after_id": after[2] if after else None},
    )
    return list(await cursor.fetchall())


async def alert_shipment(conn: AsyncConnection[Any], alert_id: str) -> str | None:
    """The shipment an alert belongs to, or None for an unknown alert."""
    cursor = await conn.execute("SELECT shipment_id FROM alerts WHERE id = %s", (alert_id,))
    row = await cursor.fetchone()
    return str(row[0]) if row else None


async def acknowledge_alert(conn: AsyncConnection[Any], alert_id: str, by: str, now: datetime) -> bool:
    """True if this call acknowledged the alert (False: unknown, or already done)."""
    cursor = await conn.execute(
        "UPDATE alerts SET acknowledged_at = %s, acknowledged_by = %s WHERE id = %s AND acknowledged_at IS NULL",
        (now, by, alert_id),
    )
    return cursor.rowcount == 1


async def acknowledge_by_link(conn: AsyncConnection[Any], alert_id: str, token: str, now: datetime) -> bool | None:
    """The email link: None if the token does not match, else whether this call acknowledged."""
    cursor = await conn.execute("SELECT ack_token_hash FROM alerts WHERE id = %s", (alert_id,))
    row = await cursor.fetchone()
    if row is None or not token_matches(token, row[0]):
        return None
    return await acknowledge_alert(conn, alert_id, "email link", now)


async def acknowledge_by_reply(
    conn: AsyncConnection[Any], code: str, address: str, now: datetime, within: timedelta = timedelta(days=7)
) -> str | None:
    """An SMS reply "ACK CODE" from ``address``: acknowledge the newest open alert with
    that code that was delivered to that number. Returns the alert id, or None."""
    async with conn.transaction():
        cursor = await conn.execute(
            """
            SELECT a.id, d.id FROM alerts AS a
            JOIN alert_deliveries AS d ON d.alert_id = a.id
            WHERE a.ack_code = %s AND a.acknowledged_at IS NULL AND d.address = %s
              AND a.raised_at >= %s
            ORDER BY a.raised_at DESC
            LIMIT 1
            FOR UPDATE OF a
            """,
            (code.strip().upper(), address, now - within),
        )
        row = await cursor.fetchone()
        if row is None:
            return None
        found_alert, found_delivery = row
        await conn.execute(
            "UPDATE alerts SET acknowledged_at = %s, acknowledged_by = %s WHERE id = %s",
            (now, address, found_alert),
        )
        await conn.execute(
            "UPDATE alert_deliveries SET acknowledged_at = %s, acknowledged_by = %s WHERE id = %s",
            (now, address, found_delivery),
        )
    return str(found_alert)


async def _lock_state(conn: AsyncConnection[Any], shipment_id: str, now: datetime) -> AlertState:
    await conn.execute(
        "INSERT INTO alert_policy_state (shipment_id, state, updated_at)"
        " VALUES (%s, '{}'::jsonb, %s) ON CONFLICT DO NOTHING",
        (shipment_id, now),
    )
    cursor = await conn.execute(
        "SELECT state FROM alert_policy_state WHERE shipment_id = %s FOR UPDATE",
        (shipment_id,),
    )
    row = await cursor.fetchone()
    return AlertState.model_validate(row[0] if row else {})


async def _refine_alert(conn: AsyncConnection[Any], alert: Alert) -> bool:
    """Replaces a held alert's body and drops its planned deliveries, for the refinement's
    plan to take their place (see the module doc); False when it is going out already."""
    cursor = await conn.execute(
        "SELECT status, attempts FROM alert_deliveries WHERE alert_id = %s FOR UPDATE", (alert.id,)
    )
    if any(status != "pending" or attempts > 0 for status, attempts in await cursor.fetchall()):
        log.warning("alert %s is being delivered: its refinement (version %d) is dropped", alert.id, alert.version)
        return False
    cursor = await conn.execute(
        "UPDATE alerts SET severity = %s, suppressed = %s, body = %s WHERE id = %s",
        (alert.severity, alert.suppressed, Jsonb(alert.model_dump(mode="json")), alert.id),
    )
    # Nothing of it was tried (checked above under lock): its new plan (none, when it was
    # withdrawn) replaces the old one, same ids where the same recipient and channel remain.
    await conn.execute("DELETE FROM alert_deliveries WHERE alert_id = %s", (alert.id,))
    return cursor.rowcount == 1


async def _insert_delivery(conn: AsyncConnection[Any], delivery: PlannedDelivery, now: datetime) -> None:
    await conn.execute(
        """
        INSERT INTO alert_deliveries (id, alert_id, role, channel, address, recipient_name,
                                      timezone, timezone_source, language, next_attempt_at,
                                      not_before, created_at, secret_ref)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT DO NOTHING
        """,
        (
            delivery.id,
            delivery.alert_id,
            delivery.role,
            delivery.channel,
            delivery.address,
            delivery.recipient_name,
            delivery.timezone,
            delivery.timezone_source,
            delivery.language,
            delivery.not_before,
            delivery.not_before,
            now,
            delivery.secret_ref,
        ),
    )
