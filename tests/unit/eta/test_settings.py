import faust
import pytest

from services.eta.settings import EtaSettings
from services.kafka.credentials import broker_credentials


def test_model_json_and_named_overrides_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLDCHAIN_ETA_MODEL", '{"air_speed_kmh": 780, "road_factor": 1.2}')
    monkeypatch.setenv("COLDCHAIN_ETA_THRESHOLD_MIN", "20")
    params = EtaSettings().parameters
    assert params.air_speed_kmh == 780
    assert params.road_factor == 1.2
    assert params.eta_threshold_min == 20
    monkeypatch.setenv("COLDCHAIN_ETA_ROAD_FACTOR", "1.4")
    assert EtaSettings().parameters.road_factor == 1.4


def test_settings_are_frozen_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = EtaSettings()
    with pytest.raises(ValueError):
        settings.eta_store = "rocksdb://"  # type: ignore[misc]
    monkeypatch.setenv("COLDCHAIN_ETA_ROAD_FACTOR", "0.5")
    with pytest.raises(ValueError):
        EtaSettings()


def test_kafka_config_maps_to_faust_credentials() -> None:
    assert broker_credentials({}) is None
    sasl = broker_credentials({"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                               "sasl.username": "eta", "sasl.password": "s3cret"})
    assert isinstance(sasl, faust.SASLCredentials)
    assert sasl.username == "eta" and sasl.ssl_context is not None
    assert sasl.mechanism.value == "SCRAM-SHA-512"
    assert isinstance(broker_credentials({"security.protocol": "SSL"}), faust.SSLCredentials)
    with pytest.raises(ValueError):
        broker_credentials({"security.protocol": "KERBEROS_MAGIC"})
