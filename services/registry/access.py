"""Who may see a shipment: the one party check of every route, page and feed.

Ops and auditors see every shipment; an exporter token sees those where its party is the
seller or the buyer; a share link opens its own shipment and no other. Everything here is
pure: the callers bring the viewer and the shipment's parties.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

from schemas.shipment import Shipment

EXPORTER = "exporter"
# The scope of an exporter token without a party: it matches no seller or buyer (a name
# is at least one character), so such a token sees nothing rather than everything.
NO_PARTY = ""


class Viewer(Protocol):
    """A bearer token's holder, as far as seeing goes (``services.api.tokens.Principal``)."""

    @property
    def role(self) -> str: ...

    @property
    def party(self) -> str | None: ...


@dataclass(frozen=True)
class LinkHolder:
    """Whoever opens a share link: that one shipment, whatever its parties."""

    shipment_id: str


class Parties(NamedTuple):
    seller: str
    buyer: str


def parties_of(shipment: Shipment) -> Parties:
    return Parties(shipment.seller.name, shipment.buyer.name)


def scope_of(viewer: Viewer) -> str | None:
    """The party a viewer's shipments must have as seller or buyer; None: every shipment."""
    if viewer.role != EXPORTER:
        return None
    return viewer.party or NO_PARTY


def within(scope: str | None, parties: Parties | None) -> bool:
    """Whether a shipment with ``parties`` (None: not known) is inside ``scope``."""
    return scope is None or (parties is not None and scope in parties)


def may_see(viewer: Viewer | LinkHolder, shipment: Shipment) -> bool:
    if isinstance(viewer, LinkHolder):
        return viewer.shipment_id == shipment.id
    return within(scope_of(viewer), parties_of(shipment))


def acts_for(viewer: Viewer, shipment: Shipment, side: str) -> bool:
    """Whether the viewer may act for the shipment's ``side`` (``seller``, ``buyer``): an
    exporter only for its own party; a side the shipment does not have binds nobody."""
    party = getattr(shipment, side, None) if side in Parties._fields else None
    return viewer.role != EXPORTER or party is None or party.name == viewer.party
