"""Shipments as registered through the HTTP API (contract section 2)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from schemas.common import DeviceId, ShipmentId, UtcDatetime
from schemas.excursion import ProfileOverride

LegMode = Literal["road", "air", "sea"]


class Place(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class Stop(Place):
    """A place reached by a leg; ``mode`` is how that leg is travelled.

    ``scheduled_departure`` / ``scheduled_arrival`` are the booked times of that leg, when
    there is a booking (a flight's STD from the previous place and STA here): trackers are
    silent in flight, so the schedule is what the ETA follows until the backlog arrives.
    """

    mode: LegMode = "road"
    scheduled_departure: UtcDatetime | None = None
    scheduled_arrival: UtcDatetime | None = None

    @model_validator(mode="after")
    def _schedule_in_order(self) -> Self:
        departure, arrival = self.scheduled_departure, self.scheduled_arrival
        if (departure is None) != (arrival is None):
            raise ValueError("scheduled_departure and scheduled_arrival go together")
        if departure is not None and arrival is not None and arrival <= departure:
            raise ValueError("scheduled_arrival must be after scheduled_departure")
        return self


class Party(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr | None = None
    phone: Annotated[str, Field(pattern=r"^\+[1-9]\d{6,14}$")] | None = None
    timezone: str | None = None  # IANA name, for quiet hours


class ShipmentIn(BaseModel):
    """The body of ``POST /api/v1/shipments``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: ShipmentId
    product: Annotated[str, Field(min_length=1, max_length=64)] = "live-lobster"
    devices: Annotated[list[DeviceId], Field(min_length=1)]
    origin: Place
    waypoints: list[Stop] = []
    destination: Stop
    packed_at: UtcDatetime
    deliver_by: UtcDatetime
    seller: Party
    buyer: Party
    # Per-shipment changes to the product profile's limits (e.g. a tighter high limit).
    profile_override: ProfileOverride | None = None

    @model_validator(mode="after")
    def _times_and_devices(self) -> Self:
        if self.deliver_by <= self.packed_at:
            raise ValueError("deliver_by must be after packed_at")
        if len(set(self.devices)) != len(self.devices):
            raise ValueError("devices must not repeat")
        return self


class Shipment(ShipmentIn):
    created_at: datetime
