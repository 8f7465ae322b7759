"""Device telemetry as trackers publish it (contract section 1)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from schemas.common import DeviceId, UtcDatetime


class DeviceSample(BaseModel):
    """One sample on ``coldchain/v1/devices/{device_id}/telemetry``. Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    device_id: DeviceId
    ts: UtcDatetime
    seq: Annotated[int, Field(ge=0, strict=True)] | None = None
    temp_c: Annotated[float, Field(ge=-60, le=80)] | None = None
    humidity_pct: Annotated[float, Field(ge=0, le=100)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    speed_kmh: Annotated[float, Field(ge=0)] | None = None
    battery_pct: Annotated[float, Field(ge=0, le=100)] | None = None

    @model_validator(mode="after")
    def _position_and_content(self) -> Self:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon must be given together")
        if self.temp_c is None and self.lat is None:
            raise ValueError("a sample needs temp_c or lat+lon")
        return self


class TelemetryBatch(RootModel[list[DeviceSample]]):
    """A store-and-forward batch: an array of samples, in any order."""


class SenMLRecord(BaseModel):
    """One record of a SenML pack (RFC 8428, JSON). Only the fields coldchain reads."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    bn: str | None = None
    bt: float | None = None
    bu: str | None = None
    n: str | None = None
    u: str | None = None
    v: float | None = None
    t: float | None = None


class SenMLPack(RootModel[list[SenMLRecord]]):
    """A SenML pack on ``coldchain/v1/devices/{device_id}/senml``."""
