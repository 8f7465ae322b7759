import json
from pathlib import Path

import faust
import pytest

from services.eta.parameters import EtaParameters
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


def test_a_calibrated_parameters_file_sits_under_the_model_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    learned = tmp_path / "eta-model.json"
    learned.write_text(json.dumps({
        "place_dwell_h": {"Shanghai Pudong (PVG)": 4.7},
        "leg_timing": {"A -> B": {"extra_h": 1.2, "booked_extra_h": 0.4, "departure_offset_h": -0.8}},
        "air_speed_kmh": 820,
    }))
    monkeypatch.setenv("COLDCHAIN_ETA_MODEL_FILE", str(learned))
    monkeypatch.setenv("COLDCHAIN_ETA_MODEL", '{"air_speed_kmh": 780}')
    params = EtaSettings().parameters
    assert params.place_dwell_h == {"Shanghai Pudong (PVG)": 4.7}
    assert params.leg_timing["A -> B"].departure_offset_h == -0.8
    assert params.air_speed_kmh == 780  # the JSON variable wins over the file
    assert params.road_factor == EtaParameters().road_factor


@pytest.mark.parametrize(("content", "reason"), [
    (None, "cannot read"),
    ("{not json", "not JSON"),
    ('{"place_dwell_h": {"PVG": -1}}', "not ETA parameters"),
    ('{"no_such_field": 1}', "not ETA parameters"),
])
def test_a_bad_parameters_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str | None, reason: str
) -> None:
    path = tmp_path / "eta-model.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("COLDCHAIN_ETA_MODEL_FILE", str(path))
    with pytest.raises(ValueError, match=f"COLDCHAIN_ETA_MODEL_FILE {path}: {reason}"):
        EtaSettings().parameters  # noqa: B018
