"""The normalised reading that travels on Kafka (topic ``coldchain.readings``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.common import DeviceId, Latitude, Longitude, Percent, Seq, ShipmentId, SpeedKmh, TempC


class Reading(BaseModel):
    """One accepted sample, bound to its shipment (or to none).

    ``time`` is the device's sample time in UTC; ``(device_id, time)`` identifies it. Values
    carry the device sample's bounds, so a record the sink cannot store never parses.
    """

    model_config = ConfigDict(frozen=True)

    device_id: DeviceId
    time: datetime
    shipment_id: ShipmentId | None = None
    seq: Seq | None = None
    temp_c: TempC | None = None
    humidity_pct: Percent | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    speed_kmh: SpeedKmh | None = None
    battery_pct: Percent | None = None
    received_at: datetime
    source: Literal["json", "senml"] = "json"

    @property
    def key(self) -> str:
        """Kafka key: all readings of a shipment share a partition, in order."""
        return self.shipment_id or f"device:{self.device_id}"
