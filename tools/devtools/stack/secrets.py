"""Passwords of the local stack's own accounts, made once and kept in the stack folder."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class StackSecrets:
    postgres_password: str
    mqtt_ingest_password: str
    mqtt_admin_password: str
    alert_ack_secret: str  # keys acknowledgement links and SMS reply codes

    def database_role_password(self, role: str) -> str:
        """A service role's password (services/db/roles.py), derived from the owner's: nothing
        more to store, the same on every start, and no role's password tells the owner's."""
        digest = hmac.new(self.postgres_password.encode(), f"coldchain-role:{role}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    @classmethod
    def load_or_create(cls, path: Path) -> StackSecrets:
        stored = json.loads(path.read_text()) if path.exists() else {}
        # A stack made before a secret existed gets that one added; the others stay as they are.
        values = {name: stored.get(name) or secrets.token_urlsafe(24) for name in cls.__dataclass_fields__}
        made = cls(**values)
        if values == stored:
            return made
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(made), indent=2))
        path.chmod(0o600)
        return made
