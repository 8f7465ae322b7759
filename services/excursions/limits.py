"""The limits an excursion is judged by: a product profile with a shipment's override merged on."""

from __future__ import annotations

from schemas.excursion import ExcursionLimits, ProfileOverride
from services.profiles.model import ProductProfile


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
