from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.api.feed_ticket import BadTicket, issue_ticket, verify_ticket

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
SECRET = b"k" * 32


def test_a_ticket_names_its_token_until_it_expires():
    ticket, expires_at = issue_ticket(SECRET, "abc123", NOW, timedelta(minutes=5))
    assert expires_at == NOW + timedelta(minutes=5)
    checked = verify_ticket(SECRET, ticket, NOW + timedelta(minutes=4))
    assert (checked.token_id, checked.expires_at) == ("abc123", expires_at)
    with pytest.raises(BadTicket, match="expired"):
        verify_ticket(SECRET, ticket, NOW + timedelta(minutes=5))


def test_a_changed_or_foreign_ticket_is_refused():
    ticket, _ = issue_ticket(SECRET, "abc123", NOW, timedelta(minutes=5))
    token_id, expires, signature = ticket.split(".")
    for forged in (f"other.{expires}.{signature}", f"{token_id}.{int(expires) + 3600}.{signature}", "x.y", ""):
        with pytest.raises(BadTicket):
            verify_ticket(SECRET, forged, NOW)
    with pytest.raises(BadTicket, match="signature"):
        verify_ticket(b"another secret", ticket, NOW)
