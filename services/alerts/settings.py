"""The alert service's settings: ``COLDCHAIN_*`` environment variables and ``.env``."""

from __future__ import annotations

from datetime import time, timedelta
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator

from schemas.alert import ChannelName
from schemas.shipment import check_webhook_url
from services.alerts.backoff import Backoff
from services.alerts.channel_set import ESCALATION_CHANNELS, QUIET_CHANNELS
from services.alerts.channels.smtp import SmtpEndpoint, parse_smtp_url
from services.alerts.channels.twilio import TWILIO_API
from services.alerts.formatting import LinkConfig
from services.alerts.policy import DEFAULT_CHANNEL_RULES, ChannelRule, PolicyConfig, QuietHours, Recipient
from services.connections import DatabaseSettings, KafkaSettings, MetricsAddress, MetricsSettings, settings_config
from services.logs import LogSettings

# Defaults earlier versions shipped: refused, since anyone can read them.
PUBLISHED_SECRETS = frozenset({"coldchain-development-ack-secret"})
# The secret name of the deployment-wide endpoint; party names cannot take this form.
DEPLOYMENT_SECRET_REF = "@deployment"


class AlertSettings(KafkaSettings, DatabaseSettings, MetricsSettings, LogSettings):
    """Kafka and database settings come from the shared mixins (``settings.dsn``)."""

    model_config = settings_config()
    own_database: ClassVar[str | None] = "alert"  # COLDCHAIN_ALERT_DATABASE_URL, its own role
    own_metrics: ClassVar[str] = "alert"

    alert_group_id: str = "coldchain-alerts"
    alert_metrics_address: MetricsAddress = ""  # host:port; empty: COLDCHAIN_METRICS_HOST and the port below
    alert_metrics_port: int = 9103  # 0 = no /metrics endpoint
    # Base of the links in alerts; unset, the API's own address (where it listens), so a stack
    # run on another port still sends links that open.
    public_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000

    smtp_url: str = "smtp://127.0.0.1:1025"
    smtp_from: str = "coldchain@localhost"
    sms_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    twilio_base_url: str = TWILIO_API

    # Signed webhooks (services/alerts/channels/webhook.py). COLDCHAIN_WEBHOOK_URL gets every
    # alert of every shipment (ops), signed with COLDCHAIN_WEBHOOK_SECRET; a party's webhook
    # names its secret, a key of COLDCHAIN_WEBHOOK_SECRETS (a JSON object).
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_secrets: dict[str, SecretStr] = {}
    webhook_timeout_s: float = Field(default=10.0, gt=0)

    # Keys the SMS reply codes and acknowledgement links. There is no default: a built-in
    # value would let anyone forge an acknowledgement. The local stack generates one.
    alert_ack_secret: SecretStr = Field(min_length=16)
    # Who hears what on which channel; named "routes" in COLDCHAIN_ALERT_ROUTES since the first release.
    alert_routes: tuple[ChannelRule, ...] = DEFAULT_CHANNEL_RULES
    alert_quiet_start: time = time(22, 0)
    alert_quiet_end: time = time(7, 0)
    alert_quiet_channels: tuple[ChannelName, ...] = QUIET_CHANNELS
    # For a party whose zone is neither given nor known from its phone or place.
    alert_default_timezone: str = "UTC"
    # An excursion step revealed by readings that arrived this long after they were taken
    # (a landed tracker's backlog) is told as found late when it is the first news of it.
    alert_found_late_after_min: float = Field(default=15.0, gt=0)
    # Its announcement waits this long for the rest of the backlog, then goes (0: at once).
    alert_found_late_hold_s: float = Field(default=30.0, ge=0)
    alert_flap_window_min: float = Field(default=30.0, ge=0)
    alert_escalate_after_min: float = Field(default=30.0, gt=0)
    alert_ops_name: str = "Operations"
    alert_ops_email: str | None = None
    alert_ops_phone: str | None = None
    alert_ops_timezone: str | None = None
    alert_escalation_channels: tuple[ChannelName, ...] = ESCALATION_CHANNELS

    alert_backoff_base_s: float = Field(default=15.0, gt=0)
    alert_backoff_cap_s: float = Field(default=600.0, gt=0)
    alert_max_attempts: int = Field(default=40, ge=1)
    alert_claim_lease_s: float = Field(default=300.0, gt=0)  # must exceed a send's timeout
    alert_poll_interval_s: float = Field(default=2.0, gt=0)
    alert_batch_size: int = Field(default=20, ge=1)

    # Consumer of coldchain.excursions / coldchain.eta.
    alert_consume_batch: int = Field(default=100, ge=1)
    # A record whose shipment is not in the registry yet is retried this long (from when
    # the record was written), then skipped (logged and counted), with the shipment's later
    # records, so orphans cannot stall their partition. The API commits a shipment before
    # any processor hears of it: only a lagging replica needs a grace at all.
    alert_unknown_shipment_grace_s: float = Field(default=30.0, ge=0)
    alert_record_retry_s: float = Field(default=2.0, gt=0)  # pause before retrying a record
    # A crashed instance's partitions move to a restarted one after this long.

    @field_validator("alert_ack_secret")
    @classmethod
    def _not_a_published_secret(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() in PUBLISHED_SECRETS:
            raise ValueError("COLDCHAIN_ALERT_ACK_SECRET is a value published in coldchain's history; "
                             "generate your own (32+ random characters)")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _https_webhook(cls, value: str | None) -> str | None:
        return None if value is None else check_webhook_url(value)

    @model_validator(mode="after")
    def _webhook_has_secret(self) -> AlertSettings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("COLDCHAIN_WEBHOOK_URL needs COLDCHAIN_WEBHOOK_SECRET to sign with")
        return self

    def webhook_signing_secrets(self) -> dict[str, bytes]:
        found = {name: s.get_secret_value().encode("utf-8") for name, s in self.webhook_secrets.items()}
        if self.webhook_secret is not None:
            found[DEPLOYMENT_SECRET_REF] = self.webhook_secret.get_secret_value().encode("utf-8")
        return found

    def policy_config(self) -> PolicyConfig:
        return PolicyConfig(
            channel_rules=self.alert_routes,
            quiet_hours=QuietHours(
                start=self.alert_quiet_start,
                end=self.alert_quiet_end,
                channels=frozenset(self.alert_quiet_channels),
            ),
            flap_window=timedelta(minutes=self.alert_flap_window_min),
            default_timezone=self.alert_default_timezone,
            found_late_hold=timedelta(seconds=self.alert_found_late_hold_s),
        )

    def found_late_after(self) -> timedelta:
        return timedelta(minutes=self.alert_found_late_after_min)

    def backoff(self) -> Backoff:
        return Backoff(
            base=timedelta(seconds=self.alert_backoff_base_s),
            cap=timedelta(seconds=self.alert_backoff_cap_s),
            max_attempts=self.alert_max_attempts,
        )

    def links(self) -> LinkConfig:
        return LinkConfig(
            public_url=self.public_url or f"http://{self.http_host}:{self.http_port}",
            ack_secret=self.alert_ack_secret.get_secret_value().encode("utf-8"),
        )

    def ops_recipients(self) -> list[Recipient]:
        if not (self.alert_ops_email or self.alert_ops_phone or self.webhook_url):
            return []
        return [
            Recipient(
                role="ops",
                name=self.alert_ops_name,
                email=self.alert_ops_email,
                phone=self.alert_ops_phone,
                timezone=self.alert_ops_timezone,
                timezone_source="given" if self.alert_ops_timezone else "default",
                webhook_url=self.webhook_url,
                webhook_secret_ref=DEPLOYMENT_SECRET_REF if self.webhook_url else None,
            )
        ]

    def smtp_endpoint(self) -> SmtpEndpoint:
        return parse_smtp_url(self.smtp_url)

    def uses_twilio(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from)
