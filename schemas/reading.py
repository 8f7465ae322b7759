"""The normalised reading that travels on Kafka (topic ``coldchain.readings``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.common import DeviceId


class Reading(BaseModel):
    """One accepted sample, bound to its shipment (or to none).

    ``time`` is the device's sample time in UTC; ``(device_id, time)`` identifies it.
    """

    model_config = ConfigDict(frozen=True)

    device_id: DeviceId
    time: datetime
    shipment_id: str | None = None
    seq: int | None = None
    temp_c: float | None = None
    humidity_pct: float | None = None
    lat: float | None = None
    lon: float | None = None
    speed_kmh: float | None = None
    battery_pct: float | None = None
    received_at: datetime
    source: Literal["json", "senml"] = "json"

    @property
    def key(self) -> str:
        """Kafka key: all readings of a shipment share a partition, in order."""
        return self.shipment_id or f"device:{self.device_id}"
