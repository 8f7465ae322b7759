"""Shipments as registered through the HTTP API (contract section 2)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from schemas.common import DeviceId, ShipmentId, UtcDatetime
from schemas.excursion import ProfileOverride

LegMode = Literal["road", "air", "sea"]
# The languages parties can be written to in (contract section 2), as BCP 47 tags.
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "fr-CA", "zh-CN")
DEFAULT_LANGUAGE = "en"
# Where a party's time zone came from: given at registration, the phone number's region,
# the nearest airport to its place (origin for the seller, destination for the buyer), or
# none of those (the alert service's configured default).
TimezoneSource = Literal["given", "phone", "place", "default"]


def supported_language(value: str) -> str:
    """``value`` as the supported BCP 47 tag it names, or ValueError saying which are.
    Tags are case-insensitive ("fr-ca" is "fr-CA"); the registration, the report's
    ``?lang=`` and ``coldchain report --lang`` accept the same ones."""
    by_lower = {tag.lower(): tag for tag in SUPPORTED_LANGUAGES}
    tag = by_lower.get(value.strip().lower())
    if tag is None:
        raise ValueError(f"unsupported language {value!r}: expected one of {', '.join(SUPPORTED_LANGUAGES)}")
    return tag


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


# Hosts a webhook may reach over plain HTTP: only this machine (tests, a local relay).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_webhook_url(url: str) -> str:
    """HTTPS only: the body is signed, not encrypted, and alerts name parties and places."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return url
    raise ValueError(f"webhook url must be https:// (http:// only to 127.0.0.1 or localhost), not {url!r}")


class Webhook(BaseModel):
    """Where a party's own systems take its alerts (services/alerts/channels/webhook.py).

    ``secret_ref`` names the signing secret in the alert service's ``COLDCHAIN_WEBHOOK_SECRETS``
    (a JSON object of name -> secret): the secret itself never enters the registration,
    so it is in no API response, database row, Kafka record or audit entry.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: Annotated[str, Field(min_length=1, max_length=2000)]
    secret_ref: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        return check_webhook_url(value)


class Party(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr | None = None
    phone: Annotated[str, Field(pattern=r"^\+[1-9]\d{6,14}$")] | None = None
    timezone: str | None = None  # IANA name, for quiet hours and local times
    language: str = DEFAULT_LANGUAGE  # BCP 47, one of SUPPORTED_LANGUAGES
    webhook: Webhook | None = None  # alerts of at least warning, POSTed as signed JSON

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        # A zone nobody can resolve would silently become the default: refuse it instead.
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}: expected an IANA name such as 'America/Halifax'") from exc
        return value

    @field_validator("language")
    @classmethod
    def _supported_language(cls, value: str) -> str:
        return supported_language(value)


class PartyZone(BaseModel):
    """The time zone a party's messages use, and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str | None  # None with source "default": the alert service's configured zone
    timezone_source: TimezoneSource


class PartyZones(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seller: PartyZone
    buyer: PartyZone


class Quantity(BaseModel):
    """How much was shipped, as the shipper counts it (FSMA 204 records need it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Annotated[float, Field(gt=0)]
    unit: Annotated[str, Field(min_length=1, max_length=32)]  # "kg", "lb", "cases"


class ReferenceDocument(BaseModel):
    """A document the shipment travels under: air waybill, bill of lading, invoice..."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Annotated[str, Field(min_length=1, max_length=64)]  # "air waybill"
    number: Annotated[str, Field(min_length=1, max_length=64)]  # "020-12345675"


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
    # For traceability records (services/reports/fsma204.py, epcis.py); all optional.
    quantity: Quantity | None = None
    product_description: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    reference_documents: Annotated[list[ReferenceDocument], Field(max_length=20)] = []

    @model_validator(mode="after")
    def _times_and_devices(self) -> Self:
        if self.deliver_by <= self.packed_at:
            raise ValueError("deliver_by must be after packed_at")
        if len(set(self.devices)) != len(self.devices):
            raise ValueError("devices must not repeat")
        return self


class Shipment(ShipmentIn):
    created_at: datetime
    # Worked out at registration (services/alerts/zones.py) for parties given no timezone;
    # None on records registered before it was (consumers then work it out themselves).
    party_zones: PartyZones | None = None
    updated_at: datetime | None = None  # the last correction (PATCH)
    cancelled_at: UtcDatetime | None = None  # cancelled: no alert is raised about it after this
    cancel_reason: Annotated[str, Field(max_length=500)] | None = None


class ShipmentPatch(BaseModel):
    """The body of ``PATCH /api/v1/shipments/{id}``: the fields to correct, each replacing the
    registered value whole (a party, the stops with their bookings, the device list)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seller: Party | None = None
    buyer: Party | None = None
    deliver_by: UtcDatetime | None = None
    waypoints: list[Stop] | None = None
    destination: Stop | None = None
    devices: Annotated[list[DeviceId], Field(min_length=1)] | None = None
    # Traceability data, often known only once the shipment is packed (FSMA 204 records).
    quantity: Quantity | None = None
    product_description: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    reference_documents: Annotated[list[ReferenceDocument], Field(max_length=20)] | None = None


class ShipmentCancel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=500)]
