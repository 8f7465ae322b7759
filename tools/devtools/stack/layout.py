"""Where the local stack keeps everything: one ignored folder, ``.stack/`` by default."""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path

# The checkout this tool runs from (tools/devtools/stack/layout.py): the stack reads the
# deploy/ files there. Only the dev tools find it; the services never do.
CHECKOUT = Path(__file__).resolve().parents[3]


def default_root() -> Path:
    configured = os.environ.get("COLDCHAIN_STACK_DIR")
    if configured:
        return Path(configured).resolve()
    if (CHECKOUT / "pyproject.toml").exists():
        return CHECKOUT / ".stack"
    return Path.home() / ".cache" / "coldchain" / "stack"


@dataclass(frozen=True)
class StackLayout:
    root: Path

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.json"

    @property
    def env_file(self) -> Path:
        """``COLDCHAIN_*`` settings of the running stack; services read it as a default."""
        return self.root / "stack.env"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def make(self) -> None:
        for folder in (self.downloads, self.data, self.logs, self.run, self.conf):
            folder.mkdir(parents=True, exist_ok=True)
        # The database runs as the postgres user when we are root: it must reach its folders.
        for folder in (self.root, self.data, self.logs, self.run):
            folder.chmod(0o755)


def export_running_stack_env(environ: MutableMapping[str, str]) -> None:
    """Adds the running local stack's ``COLDCHAIN_*`` settings to ``environ`` where they are
    not set already. Only the ``coldchain`` command calls this; services never read the file."""
    env_file = StackLayout(default_root()).env_file
    if not env_file.exists():
        return
    for line in env_file.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.startswith("COLDCHAIN_"):
            environ.setdefault(key, value)
