"""The shipment report as plain data: what the PDF lays out (services/reports/pdf.py) and
what the database adapter fills (services/reports/loading.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.excursion import ExcursionLimits
from schemas.shipment import Party, Place, Quantity, ReferenceDocument
from services.reports.statistics import Sample, SeriesStatistics, combined_mkt, series_statistics


@dataclass(frozen=True)
class LegRow:
    index: int
    origin: str
    destination: str
    mode: str
    state: str  # planned, active, done
    departed_at: datetime | None = None
    arrived_at: datetime | None = None


@dataclass(frozen=True)
class ExcursionRow:
    device_id: str
    kind: str
    severity: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    duration_min: float | None
    peak_c: float | None
    degree_minutes: float | None
    peak_humidity_pct: float | None = None


@dataclass(frozen=True)
class DeliveryRow:
    role: str
    channel: str
    status: str
    sent_at: datetime | None


@dataclass(frozen=True)
class AlertRow:
    kind: str
    severity: str
    step: str
    event_time: datetime
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    deliveries: tuple[DeliveryRow, ...] = ()


@dataclass(frozen=True)
class ViabilityRow:
    """The latest forecast's viability, and the loss if the ETA service found one."""

    state: str  # ok, compromised, lost
    used_h: float  # budget-hours used
    remaining_at_eta_h: float  # budget-hours left at the forecast arrival
    lost_at: datetime | None = None
    lost_reason: str | None = None  # freezing, heat


@dataclass(frozen=True)
class DeviceSeries:
    device_id: str
    temperature: tuple[Sample, ...]
    humidity: tuple[Sample, ...]


@dataclass(frozen=True)
class ShipmentReport:
    shipment_id: str
    product: str
    seller: Party
    buyer: Party
    stops: tuple[str, ...]  # origin, waypoints, destination
    legs: tuple[LegRow, ...]
    packed_at: datetime
    deliver_by: datetime
    first_eta: datetime | None  # the first forecast of arrival
    last_eta: datetime | None
    actual_arrival: datetime | None  # None while not delivered
    limits: ExcursionLimits
    devices: tuple[DeviceSeries, ...]
    excursions: tuple[ExcursionRow, ...]
    alerts: tuple[AlertRow, ...]
    chain_heads: dict[str, str] = field(default_factory=dict)  # device -> last chain hash (hex)
    generated_at: datetime | None = None
    viability: ViabilityRow | None = None  # None before the first forecast
    # The stops with their coordinates (origin first), for location identifiers (epcis.py).
    places: tuple[Place, ...] = ()
    # Traceability data (fsma204.py): the registration's, else the product profile's text.
    product_description: str = ""
    quantity: Quantity | None = None
    reference_documents: tuple[ReferenceDocument, ...] = ()

    def temperature_statistics(self) -> dict[str, SeriesStatistics]:
        return {d.device_id: series_statistics(d.temperature, self.limits.nominal_low_c, self.limits.nominal_high_c,
                                               kinetic=True) for d in self.devices}

    def humidity_statistics(self) -> dict[str, SeriesStatistics]:
        return {d.device_id: series_statistics(d.humidity, self.limits.humidity_low_pct, None)
                for d in self.devices if d.humidity}

    def shipment_mkt_c(self) -> float | None:
        return combined_mkt(d.temperature for d in self.devices)
