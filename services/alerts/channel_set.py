"""The alert channels, as a map from name to channel (like traccar's notificators).

A channel knows everything that depends on which channel it is: where a recipient is
reached on it (``address``), whether quiet hours defer it and whether ops are escalated
to on it by default, how a claimed delivery becomes its message type (``render``), and
which provider sends that message (``services/alerts/channels/``). Nothing else branches
on a channel's name. Adding a channel is one ``AlertChannel`` subclass and one entry in
``CHANNELS`` (and its name in ``schemas.alert.ChannelName``, the messages' contract, and
the delivery table's check constraint).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from schemas.alert import ChannelName
from services.alerts.channels.base import Channel, RetryableDeliveryError
from services.alerts.channels.sms_gateway import HttpSmsGateway
from services.alerts.channels.smtp import SmtpEmailChannel
from services.alerts.channels.twilio import TwilioSms
from services.alerts.channels.webhook import WebhookChannel
from services.alerts.formatting import LinkConfig, format_email, format_sms
from services.alerts.messages import EmailMessage, SmsMessage, WebhookMessage
from services.alerts.sms_encoding import SmsSize
from services.alerts.webhook_payload import webhook_body

if TYPE_CHECKING:  # only types: the outbox and the settings import the policy, which imports this
    from services.alerts.outbox import ClaimedDelivery
    from services.alerts.policy import Recipient
    from services.alerts.settings import AlertSettings

M = TypeVar("M")


@dataclass(frozen=True)
class Sent:
    """What the provider answered: its reference, and for an SMS the encoding and segments."""

    provider_ref: str | None
    sms: SmsSize | None = None


class AlertChannel(ABC, Generic[M]):
    """One way of reaching a recipient; ``provider`` None: configured off, its deliveries wait."""

    name: ClassVar[ChannelName]
    quiet_hours: ClassVar[bool] = True  # quiet hours defer its non-urgent deliveries by default
    escalation: ClassVar[bool] = True  # ops are escalated to on it by default

    def __init__(self, provider: Channel[M] | None) -> None:
        self.provider = provider

    @staticmethod
    @abstractmethod
    def address(recipient: Recipient) -> str | None:
        """Where ``recipient`` is reached on this channel (normalised), or None."""

    @staticmethod
    def secret_ref(recipient: Recipient) -> str | None:
        """The name of the secret its messages to ``recipient`` are signed with, if any."""
        return None

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: AlertSettings) -> AlertChannel[Any] | None:
        """The channel as configured, or None when it is not."""

    @abstractmethod
    def render(self, delivery: ClaimedDelivery, zone: tzinfo, links: LinkConfig) -> M:
        """The message of a claimed delivery, in its recipient's language and zone."""

    def receipt(self, message: M, provider_ref: str | None) -> Sent:
        return Sent(provider_ref)

    async def send(self, delivery: ClaimedDelivery, zone: tzinfo, links: LinkConfig) -> Sent:
        """Render and hand to the provider; after an expired claim, first ask whether it has it.

        Raises RetryableDeliveryError (also when no provider is configured) or PermanentDeliveryError.
        """
        if self.provider is None:
            raise RetryableDeliveryError("channel not configured")
        message = self.render(delivery, zone, links)
        if delivery.reclaimed and await self.provider.already_accepted(message):
            return self.receipt(message, "already-accepted")
        return self.receipt(message, await self.provider.send(message))

    async def start(self) -> None:
        if self.provider is not None:
            await self.provider.start()

    async def close(self) -> None:
        if self.provider is not None:
            await self.provider.close()


class ByEmail(AlertChannel[EmailMessage]):
    """Email over SMTP (``COLDCHAIN_SMTP_URL``, sender ``COLDCHAIN_SMTP_FROM``)."""

    name = "email"

    @staticmethod
    def address(recipient: Recipient) -> str | None:
        return recipient.email.strip().lower() if recipient.email else None

    @classmethod
    def from_settings(cls, settings: AlertSettings) -> ByEmail:
        return cls(SmtpEmailChannel(settings.smtp_endpoint(), settings.smtp_from))

    def render(self, delivery: ClaimedDelivery, zone: tzinfo, links: LinkConfig) -> EmailMessage:
        return format_email(delivery.alert, delivery.address, delivery.recipient_name, delivery.id, zone, links,
                            delivery.language)


class BySms(AlertChannel[SmsMessage]):
    """SMS through Twilio when its three settings are set, else the HTTP gateway
    (``COLDCHAIN_SMS_URL``); with neither, SMS deliveries wait in the outbox."""

    name = "sms"

    @staticmethod
    def address(recipient: Recipient) -> str | None:
        return recipient.phone

    @classmethod
    def from_settings(cls, settings: AlertSettings) -> BySms | None:
        if settings.uses_twilio():
            assert settings.twilio_account_sid and settings.twilio_auth_token
            assert settings.twilio_from
            return cls(TwilioSms(
                settings.twilio_account_sid,
                settings.twilio_auth_token.get_secret_value(),
                settings.twilio_from,
                base_url=settings.twilio_base_url,
            ))
        return cls(HttpSmsGateway(settings.sms_url)) if settings.sms_url else None

    def render(self, delivery: ClaimedDelivery, zone: tzinfo, links: LinkConfig) -> SmsMessage:
        return format_sms(delivery.alert, delivery.address, delivery.id, zone, links, delivery.language)

    def receipt(self, message: SmsMessage, provider_ref: str | None) -> Sent:
        return Sent(provider_ref, message.size)


class ByWebhook(AlertChannel[WebhookMessage]):
    """Signed JSON POSTs, when any webhook secret is configured (without one no webhook can
    be signed: its deliveries wait in the outbox). A machine: never quiet, not escalated to."""

    name = "webhook"
    quiet_hours = False
    escalation = False

    @staticmethod
    def address(recipient: Recipient) -> str | None:
        return recipient.webhook_url

    @staticmethod
    def secret_ref(recipient: Recipient) -> str | None:
        return recipient.webhook_secret_ref

    @classmethod
    def from_settings(cls, settings: AlertSettings) -> ByWebhook | None:
        secrets = settings.webhook_signing_secrets()
        return cls(WebhookChannel(secrets, timeout_s=settings.webhook_timeout_s)) if secrets else None

    def render(self, delivery: ClaimedDelivery, zone: tzinfo, links: LinkConfig) -> WebhookMessage:
        body = webhook_body(delivery.alert, delivery.id, delivery.role, delivery.recipient_name, links)
        return WebhookMessage(delivery.id, delivery.address, delivery.secret_ref or "", body)


# The one map of channels: name -> class.
CHANNELS: dict[ChannelName, type[AlertChannel[Any]]] = {
    "email": ByEmail,
    "sms": BySms,
    "webhook": ByWebhook,
}

QUIET_CHANNELS: tuple[ChannelName, ...] = tuple(name for name, kind in CHANNELS.items() if kind.quiet_hours)
ESCALATION_CHANNELS: tuple[ChannelName, ...] = tuple(name for name, kind in CHANNELS.items() if kind.escalation)


class ChannelSet(Mapping[ChannelName, AlertChannel[Any]]):
    """The configured channels by name; a channel missing here is not sent on (its deliveries wait)."""

    def __init__(self, channels: Mapping[ChannelName, AlertChannel[Any]] | None = None) -> None:
        self._channels = {name: channels[name] for name in CHANNELS if channels and name in channels}

    @classmethod
    def of(cls, **providers: Channel[Any] | None) -> ChannelSet:
        """From providers by channel name: ``ChannelSet.of(email=SmtpEmailChannel(...))``."""
        found: dict[ChannelName, AlertChannel[Any]] = {}
        for name, kind in CHANNELS.items():
            provider = providers.pop(name, None)
            if provider is not None:
                found[name] = kind(provider)
        if providers:
            raise TypeError(f"no such channel: {', '.join(providers)}")
        return cls(found)

    def __getitem__(self, name: ChannelName) -> AlertChannel[Any]:
        return self._channels[name]

    def __iter__(self) -> Iterator[ChannelName]:
        return iter(self._channels)

    def __len__(self) -> int:
        return len(self._channels)

    def names(self) -> list[ChannelName]:
        return list(self._channels)

    async def start(self) -> None:
        for channel in self._channels.values():
            await channel.start()

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()


def build_channels(settings: AlertSettings) -> ChannelSet:
    """Every channel of ``CHANNELS`` that its settings configure."""
    found: dict[ChannelName, AlertChannel[Any]] = {}
    for name, kind in CHANNELS.items():
        channel = kind.from_settings(settings)
        if channel is not None:
            found[name] = channel
    return ChannelSet(found)
