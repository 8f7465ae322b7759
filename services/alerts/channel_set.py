"""The configured channels: email over SMTP, SMS over Twilio or the HTTP gateway, and
signed webhooks when any webhook secret is configured."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.alert import ChannelName
from services.alerts.channels.base import Channel
from services.alerts.channels.sms_gateway import HttpSmsGateway
from services.alerts.channels.smtp import SmtpEmailChannel
from services.alerts.channels.twilio import TwilioSms
from services.alerts.channels.webhook import WebhookChannel
from services.alerts.messages import EmailMessage, SmsMessage, WebhookMessage
from services.alerts.settings import AlertSettings


@dataclass(frozen=True)
class ChannelSet:
    email: Channel[EmailMessage] | None = None
    sms: Channel[SmsMessage] | None = None
    webhook: Channel[WebhookMessage] | None = None

    def names(self) -> list[ChannelName]:
        found: list[ChannelName] = []
        if self.email is not None:
            found.append("email")
        if self.sms is not None:
            found.append("sms")
        if self.webhook is not None:
            found.append("webhook")
        return found

    def _all(self) -> list[Channel[EmailMessage] | Channel[SmsMessage] | Channel[WebhookMessage]]:
        return [c for c in (self.email, self.sms, self.webhook) if c is not None]

    async def start(self) -> None:
        for channel in self._all():
            await channel.start()

    async def close(self) -> None:
        for channel in self._all():
            await channel.close()


def build_channels(settings: AlertSettings) -> ChannelSet:
    """SMS goes through Twilio when its three settings are set, else the HTTP gateway
    when ``COLDCHAIN_SMS_URL`` is set; with neither, SMS deliveries wait in the outbox."""
    email = SmtpEmailChannel(settings.smtp_endpoint(), settings.smtp_from)
    sms: Channel[SmsMessage] | None = None
    if settings.uses_twilio():
        assert settings.twilio_account_sid and settings.twilio_auth_token
        assert settings.twilio_from
        sms = TwilioSms(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_from,
            base_url=settings.twilio_base_url,
        )
    elif settings.sms_url:
        sms = HttpSmsGateway(settings.sms_url)
    # Without any secret no webhook can be signed: its deliveries wait in the outbox.
    secrets = settings.webhook_signing_secrets()
    webhook = WebhookChannel(secrets, timeout_s=settings.webhook_timeout_s) if secrets else None
    return ChannelSet(email=email, sms=sms, webhook=webhook)
