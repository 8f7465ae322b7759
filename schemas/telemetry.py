"""Device telemetry as trackers publish it (contract section 1)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from schemas.common import DeviceId, Latitude, Longitude, Percent, Seq, SpeedKmh, TempC, UtcDatetime


class DeviceSample(BaseModel):
    """One sample on ``coldchain/v1/devices/{device_id}/telemetry``. Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    device_id: DeviceId
    ts: UtcDatetime
    seq: Seq | None = None
    temp_c: TempC | None = None
    humidity_pct: Percent | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    speed_kmh: SpeedKmh | None = None
    battery_pct: Percent | None = None

    @model_validator(mode="after")
    def _position_and_content(self) -> Self:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon must be given together")
        if self.temp_c is None and self.lat is None:
            raise ValueError("a sample needs temp_c or lat+lon")
        return self


# A tracker logging once a minute for 3 days holds 4,320 samples; more in one message is
# refused whole (which ones to keep would depend on the order, and a batch has none).
MAX_BATCH_SAMPLES = 5000
# A SenML sample is one record per name: at most the six names coldchain reads.
MAX_SENML_RECORDS = 6 * MAX_BATCH_SAMPLES


class TelemetryBatch(RootModel[Annotated[list[DeviceSample], Field(min_length=1, max_length=MAX_BATCH_SAMPLES)]]):
    """A store-and-forward batch: an array of samples, in any order."""


# Names and units coldchain knows are a few characters; a long one is junk, never stored.
SENML_TEXT_MAX = 256
SenMLText = Annotated[str, Field(max_length=SENML_TEXT_MAX)]
SenMLNumber = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class SenMLBase(BaseModel):
    """The base fields of a SenML record that later records resolve against (RFC 8428 4.5)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    bt: SenMLNumber | None = None
    bu: SenMLText | None = None


class SenMLRecord(SenMLBase):
    """One record of a SenML pack (RFC 8428, JSON). Only the fields coldchain reads."""

    bn: SenMLText | None = None
    n: SenMLText | None = None
    u: SenMLText | None = None
    v: SenMLNumber | None = None
    t: SenMLNumber | None = None


class SenMLPack(RootModel[Annotated[list[SenMLRecord], Field(min_length=1, max_length=MAX_SENML_RECORDS)]]):
    """A SenML pack on ``coldchain/v1/devices/{device_id}/senml``: at most ``MAX_BATCH_SAMPLES``
    resolved times (samples) and ``MAX_SENML_RECORDS`` records."""
