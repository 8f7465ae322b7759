"""A 3-day, 1-minute-sampled shipment with known excursions, as a plain report model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.shipment import Party, Place
from services.profiles.catalog import builtin_profiles
from services.registry.limits import limits_for
from services.reports.model import AlertRow, DeliveryRow, DeviceSeries, ExcursionRow, LegRow, ShipmentReport
from services.reports.statistics import Sample

PACKED = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)
HOT_FROM, HOT_MINUTES = 1000, 60  # minute offsets of the warm spell
PEAK_C = 12.34
PLACES = (Place(name="Halifax Stanfield (YHZ)", lat=44.8808, lon=-63.5086),
          Place(name="Shanghai Pudong (PVG)", lat=31.1443, lon=121.8083),
          Place(name="Hangzhou buyer warehouse", lat=30.2741, lon=120.1551))


def temperature_at(minute: int) -> float:
    """3.0 °C, with one warm spell: a ramp up to PEAK_C and straight back down."""
    if HOT_FROM <= minute <= HOT_FROM + HOT_MINUTES:
        half = HOT_MINUTES / 2
        return round(3.0 + (PEAK_C - 3.0) * (1 - abs(minute - HOT_FROM - half) / half), 4)
    return 3.0


def three_day_report(device_id: str = "TRK-0001") -> ShipmentReport:
    minutes = range(3 * 24 * 60)
    temps = tuple(Sample(PACKED + timedelta(minutes=m), temperature_at(m)) for m in minutes)
    humidity = tuple(Sample(PACKED + timedelta(minutes=m), 88.0 if m < 2000 else 65.5) for m in minutes)
    excursion_start = PACKED + timedelta(minutes=HOT_FROM + 12)
    return ShipmentReport(
        shipment_id="SHP-2026-0042", product="live-lobster",
        seller=Party(name="Shediac Lobster Co.", email="ops@seller.example", phone="+19025550100"),
        buyer=Party(name="Hangzhou Fresh Ltd.", email="qa@buyer.example"),
        stops=("Halifax Stanfield (YHZ)", "Shanghai Pudong (PVG)", "Hangzhou buyer warehouse"),
        legs=(LegRow(0, "Halifax Stanfield (YHZ)", "Shanghai Pudong (PVG)", "air", "done",
                     PACKED + timedelta(hours=3), PACKED + timedelta(hours=20)),
              LegRow(1, "Shanghai Pudong (PVG)", "Hangzhou buyer warehouse", "road", "done",
                     PACKED + timedelta(hours=26), PACKED + timedelta(hours=30))),
        packed_at=PACKED, deliver_by=PACKED + timedelta(hours=42),
        first_eta=PACKED + timedelta(hours=29), last_eta=PACKED + timedelta(hours=30),
        actual_arrival=PACKED + timedelta(hours=30),
        limits=limits_for(builtin_profiles()["live-lobster"]),
        devices=(DeviceSeries(device_id, temps, humidity),),
        excursions=(ExcursionRow(device_id, "temp_high", "critical", "closed", excursion_start,
                                 excursion_start + timedelta(minutes=36), 36.0, PEAK_C, 171.5),),
        alerts=(AlertRow("temp_high", "critical", "opened", excursion_start + timedelta(minutes=5),
                         excursion_start + timedelta(minutes=5, seconds=2), PACKED + timedelta(minutes=1047),
                         "exporter:Hangzhou Fresh Ltd.",
                         (DeliveryRow("buyer", "sms", "sent", excursion_start + timedelta(minutes=5, seconds=4)),
                          DeliveryRow("seller", "email", "sent", excursion_start + timedelta(minutes=5, seconds=3)))),),
        chain_heads={device_id: "ab" * 32},
        generated_at=PACKED + timedelta(days=4),
        places=PLACES,
        product_description="Live lobster, out of water, gel-packed",
    )
