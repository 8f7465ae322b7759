"""The same stack with Docker, for users who have an engine: `deploy/compose.yaml`."""

from __future__ import annotations

import os
import shutil
import subprocess

from devtools.stack.layout import CHECKOUT, StackLayout
from devtools.stack.process import StackError, run
from devtools.stack.secrets import StackSecrets
from services.db.roles import ROLES

COMPOSE_FILE = CHECKOUT / "deploy" / "compose.yaml"


def docker_engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=10)
    return probe.returncode == 0


class DockerStack:
    def __init__(self, layout: StackLayout) -> None:
        self.layout = layout

    def _compose(self, *args: str) -> None:
        if not docker_engine_answers():
            raise StackError("no Docker engine answers; use `coldchain stack up` (native) instead")
        # The containers get the native stack's own passwords, so `coldchain stack env` fits both.
        secrets = StackSecrets.load_or_create(self.layout.secrets_file)
        env = {**os.environ,
               "COLDCHAIN_POSTGRES_PASSWORD": secrets.postgres_password,
               "COLDCHAIN_MQTT_INGEST_PASSWORD": secrets.mqtt_ingest_password,
               # the services' own roles (deploy/env.example), as the native stack makes them
               **{f"COLDCHAIN_DB_{role.name.removeprefix('coldchain_').upper()}_PASSWORD":
                  secrets.database_role_password(role.name) for role in ROLES}}
        run(["docker", "compose", "-f", str(COMPOSE_FILE), *args], f"docker compose {' '.join(args)}", env=env)

    def up(self) -> None:
        self._compose("up", "-d", "--wait", "kafka", "mosquitto", "timescaledb")
        from devtools.stack.native import NativeStack

        NativeStack(self.layout).postgres.prepare()  # the owner migrates; services never do

    def down(self) -> None:
        self._compose("down")
