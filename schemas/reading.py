"""The normalised readings that travel on Kafka (topic ``coldchain.readings``), a batch a record."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


# One MQTT message holds at most MAX_BATCH_SAMPLES samples (schemas/telemetry.py).
READING_BATCH_MAX = 5000


class ReadingBatch(BaseModel):
    """One record of ``coldchain.readings``: the accepted readings of one MQTT message that bind
    to the same shipment (or to none), in the device's order.

    One record per message, not per reading: a landed backlog of 100 samples is one Kafka
    record, one decode and one stream event downstream instead of a hundred. Every reading of
    a batch has the same ``device_id`` and ``shipment_id``, so the batch has one key.
    """

    model_config = ConfigDict(frozen=True)

    readings: list[Reading] = Field(min_length=1, max_length=READING_BATCH_MAX)

    @model_validator(mode="before")
    @classmethod
    def _one_reading_record(cls, data: Any) -> Any:
        # The topic used to carry one Reading per record: records written then are still
        # on the topic after an upgrade, and read as a batch of one.
        if isinstance(data, dict) and "readings" not in data and "device_id" in data:
            return {"readings": [data]}
        return data

    @model_validator(mode="after")
    def _one_key(self) -> ReadingBatch:
        first = self.readings[0]
        if any(r.device_id != first.device_id or r.shipment_id != first.shipment_id for r in self.readings):
            raise ValueError("the readings of a batch share one device and one shipment")
        return self

    @property
    def key(self) -> str:
        return self.readings[0].key

    @property
    def device_id(self) -> str:
        return self.readings[0].device_id
