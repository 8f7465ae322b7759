"""Registrations the registry tests share: the contract's example, with its product and
override chosen by the test."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from schemas.excursion import ProfileOverride
from schemas.shipment import Shipment

SELLER = "Shediac Lobster Co."
BUYER = "Hangzhou Fresh Ltd."

# A profile of the kind an operator adds by configuration (COLDCHAIN_EXCURSIONS_PROFILE_FILES).
CUSTOM_PROFILE = """
name = "live-crab"
description = "Live snow crab, out of water"
hysteresis_c = 0.5
close_after_min = 5
silence_after_min = 45

[nominal]
low_c = 1.0
high_c = 7.0
delay_min = 20

[critical]
low_c = -0.5
high_c = 12.0
delay_min = 8

[viability]
budget_h = 40.0
reference_c = 4.0
q10 = 2.0
floor_rate = 0.5
"""


def custom_profile_file(folder: Path) -> Path:
    path = folder / "live-crab.toml"
    path.write_text(CUSTOM_PROFILE, encoding="utf-8")
    return path


def shipment(product: str = "live-lobster", override: ProfileOverride | None = None,
             shipment_id: str = "SHP-2026-0001") -> Shipment:
    return Shipment.model_validate({
        "id": shipment_id,
        "product": product,
        "devices": ["TRK-0001"],
        "origin": {"name": "Halifax Stanfield (YHZ)", "lat": 44.8808, "lon": -63.5086},
        "destination": {"name": "Hangzhou buyer warehouse", "lat": 30.2741, "lon": 120.1551, "mode": "road"},
        "packed_at": "2026-11-09T18:00:00Z",
        "deliver_by": "2026-11-11T12:00:00Z",
        "seller": {"name": SELLER, "email": "ops@seller.example"},
        "buyer": {"name": BUYER, "email": "qa@buyer.example"},
        "profile_override": override.model_dump(exclude_none=True) if override else None,
        "created_at": datetime(2026, 11, 9, 17, 0, tzinfo=UTC),
    })
