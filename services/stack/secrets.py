"""Passwords of the local stack's own accounts, made once and kept in the stack folder."""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class StackSecrets:
    postgres_password: str
    mqtt_ingest_password: str
    mqtt_admin_password: str

    @classmethod
    def load_or_create(cls, path: Path) -> StackSecrets:
        if path.exists():
            return cls(**json.loads(path.read_text()))
        made = cls(
            postgres_password=secrets.token_urlsafe(18),
            mqtt_ingest_password=secrets.token_urlsafe(18),
            mqtt_admin_password=secrets.token_urlsafe(18),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(made), indent=2))
        path.chmod(0o600)
        return made
