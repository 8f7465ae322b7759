"""The simulator's one settings object (``COLDCHAIN_*``, ``.env``, the local stack's env)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, field_validator

from services.connections import MqttEndpoint, MqttSettings, parse_mqtt_url, settings_config


class SimulateSettings(MqttSettings):
    """``COLDCHAIN_MQTT_URL`` is reused; the local stack's ``COLDCHAIN_MQTT_URL`` is the
    ingest account (read-only), so a shared publishing account is taken from
    ``COLDCHAIN_MQTT_ADMIN_URL`` when that is set. Devices with their own password (a
    ``--credentials`` file) connect as themselves on the same host and port."""

    model_config = settings_config()

    mqtt_admin_url: SecretStr | None = None
    # Where devices with their own password connect (the local stack's device listener);
    # when unset, the shared account's host and port.
    mqtt_device_url: str | None = None
    mqtt_ca_file: Path | None = None  # for mqtts:// with a private CA
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    api_url: str | None = None  # where --register posts; default http://HTTP_HOST:HTTP_PORT
    api_token: SecretStr | None = None

    @field_validator("mqtt_admin_url")
    @classmethod
    def _valid_admin_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_mqtt_url(value.get_secret_value())
        return value

    @field_validator("mqtt_device_url")
    @classmethod
    def _valid_device_url(cls, value: str | None) -> str | None:
        if value:
            parse_mqtt_url(value)
        return value

    @property
    def publisher_url(self) -> str:
        """The shared account's URL: the admin account if configured, else COLDCHAIN_MQTT_URL."""
        chosen = self.mqtt_admin_url or self.mqtt_url
        return chosen.get_secret_value()

    @property
    def publisher_endpoint(self) -> MqttEndpoint:
        return parse_mqtt_url(self.publisher_url)

    @property
    def device_endpoint(self) -> MqttEndpoint | None:
        return parse_mqtt_url(self.mqtt_device_url) if self.mqtt_device_url else None

    @property
    def api_base_url(self) -> str:
        return self.api_url or f"http://{self.http_host}:{self.http_port}"
