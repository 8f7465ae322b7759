"""The Docker users' TimescaleDB runs with the native stack's WAL settings (issue 22)."""

from __future__ import annotations

import re
from pathlib import Path

from devtools.stack.postgres import WAL_SETTINGS

COMPOSE = Path(__file__).parents[4] / "deploy" / "compose.yaml"


def test_compose_gives_timescaledb_the_native_stacks_wal_settings() -> None:
    command = re.search(r"^    command: \[(.*)\]$", COMPOSE.read_text().split("\n  timescaledb:\n", 1)[1],
                        re.MULTILINE)
    assert command is not None
    words = [word.strip().strip('"') for word in command.group(1).split(",")]
    assert words[0] == "postgres"
    assert [value for flag, value in zip(words[1::2], words[2::2], strict=True) if flag == "-c"] == list(WAL_SETTINGS)
