"""Bearer tokens: random, shown once, stored as SHA-256 hashes only."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

import psycopg

Role = Literal["ops", "auditor", "exporter"]
ROLES: tuple[Role, ...] = ("ops", "auditor", "exporter")


@dataclass(frozen=True)
class Principal:
    token_id: str
    role: Role
    party: str | None

    @property
    def can_write(self) -> bool:
        return self.role == "ops"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(dsn: str, role: Role, party: str | None, actor: str | None = None) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "exporter" and not party:
        raise ValueError("an exporter token needs --party (the seller or buyer name)")
    token_id = secrets.token_hex(6)
    token = f"cc_{token_id}_{secrets.token_urlsafe(24)}"
    with psycopg.connect(dsn) as conn:
        if actor is not None:  # who, in the audit log (0510_audit_log.sql)
            conn.execute("SELECT set_config('coldchain.actor', %s, true)", (actor,))
        conn.execute(
            "INSERT INTO api_tokens (id, token_hash, role, party) VALUES (%s, %s, %s, %s)",
            (token_id, hash_token(token), role, party),
        )
    return token
