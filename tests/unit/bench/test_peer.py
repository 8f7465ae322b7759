"""The peer section's pure parts: Telegraf's build check and configuration, and the rate maths.
No timings are asserted: the figures themselves are the bench's to report."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from bench.peer import PeerRun, ratio, summarise
from bench.telegraf import (
    BUILD_TAGS,
    MODULE,
    VERSION,
    PeerTarget,
    TelegrafSettings,
    _describes,
    go_env,
    install_command,
    render_config,
)

TARGET = PeerTarget("127.0.0.1", 11884, "bench-telegraf-abc123-1r1", "peer_abc123")


def _config(settings: TelegrafSettings | None = None) -> dict[str, Any]:
    return tomllib.loads(render_config(TARGET, settings or TelegrafSettings()))


def test_the_config_reads_the_devices_topic_at_qos_1_with_a_persistent_session_of_its_own() -> None:
    mqtt = _config()["inputs"]["mqtt_consumer"][0]
    assert mqtt["servers"] == ["tcp://127.0.0.1:11884"]
    assert mqtt["topics"] == ["coldchain/v1/devices/+/telemetry"]
    assert mqtt["qos"] == 1
    assert mqtt["persistent_session"] is True
    assert mqtt["client_id"] == "bench-telegraf-abc123-1r1"


def test_the_config_parses_the_contracts_telemetry_with_epoch_seconds() -> None:
    mqtt = _config()["inputs"]["mqtt_consumer"][0]
    assert mqtt["data_format"] == "json"
    assert mqtt["json_time_key"] == "ts"
    assert mqtt["json_time_format"] == "unix"
    assert mqtt["tag_keys"] == ["device_id"]
    assert mqtt["name_override"] == "readings"


def test_the_config_writes_a_hypertable_in_a_schema_of_its_own() -> None:
    postgresql = _config()["outputs"]["postgresql"][0]
    assert postgresql["schema"] == "peer_abc123"
    assert postgresql["timestamp_column_type"] == "timestamp with time zone"
    create = postgresql["create_templates"]
    assert create[0].startswith("CREATE TABLE {{ .table }} ({{ .columns }}, stored_at timestamptz")
    assert "create_hypertable({{ .table|quoteLiteral }}, by_range('time', INTERVAL '1 day'))" in create[1]
    assert create[2] == "CREATE INDEX ON {{ .table }} (device_id, time)"
    assert TARGET.qualified_table == "peer_abc123.readings"


def test_the_tuning_is_rendered_and_the_file_holds_no_secret() -> None:
    settings = TelegrafSettings(max_undelivered_messages=500, metric_batch_size=250, metric_buffer_limit=9000,
                                flush_interval="50ms")
    config = _config(settings)
    assert config["agent"]["metric_batch_size"] == 250
    assert config["agent"]["metric_buffer_limit"] == 9000
    assert config["agent"]["flush_interval"] == "50ms"
    assert config["inputs"]["mqtt_consumer"][0]["max_undelivered_messages"] == 500
    assert config["inputs"]["mqtt_consumer"][0]["password"] == "${PEER_MQTT_PASSWORD}"
    assert config["outputs"]["postgresql"][0]["connection"] == "${PEER_PG_DSN}"
    assert settings.as_dict()["metric_batch_size"] == 250


def test_go_keeps_every_folder_under_the_downloads_folder(tmp_path: Path) -> None:
    env = go_env(tmp_path)
    for key in ("GOPATH", "GOMODCACHE", "GOCACHE", "GOBIN", "XDG_CONFIG_HOME"):
        assert Path(env[key]).is_relative_to(tmp_path), key
    assert env["GOTOOLCHAIN"] == "local"
    tags = "custom,inputs.mqtt_consumer,outputs.postgresql,parsers.json"
    assert install_command() == ["go", "install", "-tags", tags, f"{MODULE}/cmd/telegraf@{VERSION}"]


def test_a_built_binary_is_reused_only_at_the_same_version_and_tags() -> None:
    shown = (f"telegraf: go1.26.8\n\tpath\t{MODULE}/cmd/telegraf\n\tmod\t{MODULE}\t{VERSION}\th1:x=\n"
             f"\tbuild\t-tags={','.join(BUILD_TAGS)}\n")
    assert _describes(shown)
    assert not _describes(shown.replace(VERSION, "v1.36.0"))
    assert not _describes(shown.replace("parsers.json", "parsers.influx"))


def _round(side: str, batch: int, rate: int, stored: int = 100) -> dict[str, Any]:
    return {"side": side, "batch": batch, "label": f"batch {batch}", "readings_per_s": rate, "stored": stored,
            "readings": 100}


def test_the_summary_gives_each_sides_rounds_and_the_ratios_per_shape() -> None:
    rounds = [_round("coldchain", 1, 8000), _round("telegraf", 1, 12000), _round("coldchain", 1, 9000),
              _round("telegraf", 1, 13000), _round("coldchain", 20, 30000), _round("telegraf", 20, 20000, stored=99)]
    single, batched = summarise(rounds)
    assert single == {"label": "batch 1", "batch": 1, "coldchain": [8000, 9000], "telegraf": [12000, 13000],
                      "complete": True, "ratio_best": 0.69, "ratio_mean": 0.68}
    assert batched["ratio_best"] == batched["ratio_mean"] == 1.5
    assert batched["complete"] is False


def test_a_failed_round_is_left_out_of_the_summary() -> None:
    rounds = [_round("coldchain", 1, 8000), _round("telegraf", 1, 12000),
              {"side": "telegraf", "batch": 1, "round": 2, "label": "batch 1", "error": "RuntimeError: no CONNACK"}]
    assert summarise(rounds)[0]["telegraf"] == [12000]


def test_a_ratio_without_a_telegraf_figure_is_none() -> None:
    assert ratio(5000, 0) is None
    assert ratio(0, 4000) == 0.0
    assert summarise([_round("coldchain", 1, 100)])[0]["ratio_best"] is None


def test_each_round_has_device_ids_of_its_own() -> None:
    run = PeerRun({}, "mqtt://u:p@127.0.0.1:11884", "postgresql://x", "abc123", Path("/nowhere"))
    prefixes = {run.device_prefix(side, batch, n) for side in ("coldchain", "telegraf") for batch in (1, 20)
                for n in (1, 2)}
    assert len(prefixes) == 8
    assert all(p.startswith("BENCH-abc123-PEER-") for p in prefixes)
    assert run.telegraf_target(20, 2).client_id == "bench-telegraf-abc123-20r2"
    assert run.schema == "peer_abc123"


def test_settings_are_overridden_by_name() -> None:
    settings = TelegrafSettings.parse(["metric_batch_size=500", "flush_interval=50ms"])
    assert settings.metric_batch_size == 500
    assert settings.flush_interval == "50ms"
    assert settings.max_undelivered_messages == TelegrafSettings().max_undelivered_messages
    with pytest.raises(ValueError, match="not a Telegraf setting"):
        TelegrafSettings.parse(["batch=5"])
