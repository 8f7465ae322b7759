"""The local stack's own settings: generated secrets, and the `coldchain` command's defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from devtools.stack.layout import export_running_stack_env
from devtools.stack.secrets import StackSecrets


def test_a_new_stack_gets_every_secret_random_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    made = StackSecrets.load_or_create(path)
    assert len(made.alert_ack_secret) >= 32
    assert len({made.postgres_password, made.mqtt_ingest_password, made.alert_ack_secret}) == 3
    assert StackSecrets.load_or_create(path) == made
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_stack_made_before_a_secret_existed_gets_it_added_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    old = {"postgres_password": "pg", "mqtt_ingest_password": "in", "mqtt_admin_password": "ad"}
    path.write_text(json.dumps(old))
    made = StackSecrets.load_or_create(path)
    assert (made.postgres_password, made.mqtt_ingest_password, made.mqtt_admin_password) == ("pg", "in", "ad")
    assert made.alert_ack_secret and json.loads(path.read_text())["alert_ack_secret"] == made.alert_ack_secret


def test_the_command_takes_the_running_stacks_settings_without_overriding_the_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLDCHAIN_STACK_DIR", str(tmp_path))
    environ = {"COLDCHAIN_KAFKA_BOOTSTRAP": "kafka.example:9092"}
    export_running_stack_env(environ)
    assert environ == {"COLDCHAIN_KAFKA_BOOTSTRAP": "kafka.example:9092"}  # no stack running: nothing
    (tmp_path / "stack.env").write_text("COLDCHAIN_KAFKA_BOOTSTRAP=127.0.0.1:19092\n"
                                        "COLDCHAIN_ALERT_ACK_SECRET=abc=def\nOTHER=1\n")
    export_running_stack_env(environ)
    assert environ == {"COLDCHAIN_KAFKA_BOOTSTRAP": "kafka.example:9092", "COLDCHAIN_ALERT_ACK_SECRET": "abc=def"}


def test_services_read_no_file_of_the_local_stack() -> None:
    from services.connections import settings_config

    assert settings_config()["env_file"] == ".env"
