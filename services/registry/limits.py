"""The limits of a shipment, worked out one way for every service: the profile its product
names, with the shipment's override merged on.

One rule for what is not known, the excursion processor's (it is the one that judges): a
shipment of a product no profile describes, or a reading whose shipment is not known yet,
is judged by the default product's profile (``COLDCHAIN_EXCURSIONS_DEFAULT_PRODUCT``); an
override that breaks the profile's ordering is ignored. The dashboard, the share page and
the reports show what this module says, so they show what the processor judged by.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from schemas.excursion import ExcursionLimits, ProfileOverride
from schemas.shipment import Shipment
from services.profiles.model import ProductProfile

log = logging.getLogger(__name__)

DEFAULT_PRODUCT = "live-lobster"


@dataclass(frozen=True)
class ProfileCatalog:
    """The product profiles a process knows, and the one that stands in for an unknown product."""

    profiles: Mapping[str, ProductProfile]
    default_product: str = DEFAULT_PRODUCT

    def __post_init__(self) -> None:
        if self.default_product not in self.profiles:
            raise ValueError(f"default product {self.default_product!r} has no profile")

    def profile_of(self, product: str | None) -> ProductProfile:
        """The product's profile; the default product's for None or an unknown product."""
        profile = self.profiles.get(product or self.default_product)
        if profile is None:
            log.warning("no profile %r; using %r", product, self.default_product)
            return self.profiles[self.default_product]
        return profile


def limits_of(shipment: Shipment | None, catalog: ProfileCatalog) -> ExcursionLimits:
    """The limits ``shipment`` is judged by (None: a shipment not known yet)."""
    profile = catalog.profile_of(shipment.product if shipment is not None else None)
    override = shipment_override(shipment)
    try:
        return limits_for(profile, override)
    except ValueError as exc:
        log.warning("ignoring the override of shipment %s: %s", shipment.id if shipment else "?", exc)
        return limits_for(profile)


def shipment_override(shipment: Shipment | None) -> ProfileOverride | None:
    """The shipment's ``profile_override``; None for no shipment or none set."""
    override = getattr(shipment, "profile_override", None)
    return override if isinstance(override, ProfileOverride) else None


def limits_for(profile: ProductProfile, override: ProfileOverride | None = None) -> ExcursionLimits:
    """The profile's limits, then each field the override sets (checked for consistency)."""
    humidity = profile.humidity
    base = ExcursionLimits(
        profile=profile.name,
        nominal_low_c=profile.nominal.low_c,
        nominal_high_c=profile.nominal.high_c,
        nominal_delay_min=profile.nominal.delay_min,
        critical_low_c=profile.critical.low_c,
        critical_high_c=profile.critical.high_c,
        critical_delay_min=profile.critical.delay_min,
        humidity_low_pct=humidity.low_pct if humidity else None,
        humidity_delay_min=humidity.delay_min if humidity else 0.0,
        hysteresis_c=profile.hysteresis_c,
        hysteresis_pct=humidity.hysteresis_pct if humidity else 0.0,
        close_after_min=profile.close_after_min,
        silence_after_min=profile.silence_after_min,
    )
    if override is None:
        return base
    changes = override.model_dump(exclude_none=True)
    if not changes:
        return base
    merged = base.model_copy(update={**changes, "overridden": tuple(sorted(changes))})
    _check(merged)
    return merged


def _check(limits: ExcursionLimits) -> None:
    # An override can break the ordering a profile file guarantees by construction.
    if not limits.nominal_low_c < limits.nominal_high_c:
        raise ValueError("nominal_low_c must be below nominal_high_c")
    if not limits.critical_low_c <= limits.nominal_low_c:
        raise ValueError("critical_low_c must not be above nominal_low_c")
    if not limits.critical_high_c >= limits.nominal_high_c:
        raise ValueError("critical_high_c must not be below nominal_high_c")
