"""Who may see a shipment: one check for every route, page and feed (services/registry/access.py)."""

from __future__ import annotations

import pytest

from services.api.feed import FeedFilter
from services.api.tokens import Principal, Role
from services.registry.access import LinkHolder, Parties, acts_for, may_see, parties_of, scope_of, within
from tests.unit.registry.shipments import BUYER, SELLER, shipment

SHIPMENT = shipment()


def _token(role: Role, party: str | None = None) -> Principal:
    return Principal(token_id="t", role=role, party=party)


@pytest.mark.parametrize(("viewer", "sees"), [
    (_token("exporter", SELLER), True),
    (_token("exporter", BUYER), True),
    (_token("ops"), True),
    (_token("auditor"), True),
    (LinkHolder(SHIPMENT.id), True),
    (_token("exporter", "Another Lobster Co."), False),
    (_token("exporter", None), False),  # an exporter without a party: nothing, not everything
    (LinkHolder("SHP-2026-0002"), False),  # a link opens its own shipment only
], ids=["seller", "buyer", "ops", "auditor", "share link", "stranger", "exporter without a party",
        "another shipment's link"])
def test_who_may_see_the_shipment(viewer: Principal | LinkHolder, sees: bool) -> None:
    assert may_see(viewer, SHIPMENT) is sees


def test_the_feed_filters_by_the_same_check() -> None:
    parties = parties_of(SHIPMENT)
    for viewer in (_token("exporter", SELLER), _token("ops"), _token("exporter", "Another Lobster Co."),
                   _token("exporter", None)):
        feed_filter = FeedFilter(frozenset({"reading"}), party=scope_of(viewer))
        assert feed_filter.visible(parties) is may_see(viewer, SHIPMENT)


def test_an_exporter_does_not_see_a_shipment_whose_parties_are_not_known() -> None:
    assert not within(scope_of(_token("exporter", SELLER)), None)
    assert within(scope_of(_token("ops")), None)


def test_the_scope_is_the_party_for_an_exporter_and_everything_for_the_others() -> None:
    assert scope_of(_token("exporter", SELLER)) == SELLER
    assert scope_of(_token("ops")) is None and scope_of(_token("auditor")) is None
    assert parties_of(SHIPMENT) == Parties(SELLER, BUYER)


def test_an_exporter_acts_for_its_own_side_only() -> None:
    seller = _token("exporter", SELLER)
    assert acts_for(seller, SHIPMENT, "seller") and not acts_for(seller, SHIPMENT, "buyer")
    assert acts_for(_token("ops"), SHIPMENT, "buyer")
    assert acts_for(seller, SHIPMENT, "carrier")  # a side the shipment does not have binds nobody
