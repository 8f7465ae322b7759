"""Applies the SQL files in ``migrations/`` in name order, each once, each in its own
transaction, recorded in ``schema_migrations``, then the service roles' grants
(``services/db/roles.py``). Safe to run from several processes; only the owner runs it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import psycopg

from services.db.roles import apply_grants

MIGRATIONS_PACKAGE = "services.db"
LOCK_ID = 0x0C01DC4A1  # advisory lock: one migrator at a time


class MigrationChanged(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    folder = resources.files(MIGRATIONS_PACKAGE) / "migrations"
    found = [Migration(f.name, f.read_text(encoding="utf-8")) for f in folder.iterdir() if f.name.endswith(".sql")]
    return sorted(found, key=lambda m: m.name)


def migrate(dsn: str) -> list[str]:
    """Applies what is missing; returns the names applied."""
    applied: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done: dict[str, str] = dict(conn.execute("SELECT name, checksum FROM schema_migrations").fetchall())
            for migration in available():
                if migration.name in done:
                    if done[migration.name] != migration.checksum:
                        # An applied migration edited afterwards: the database no longer is what
                        # the files say. Add a new migration instead.
                        raise MigrationChanged(f"migration {migration.name} was changed after it was applied")
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)",
                        (migration.name, migration.checksum),
                    )
                applied.append(migration.name)
            apply_grants(conn)  # every table a migration made, with exactly its roles' rights
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_ID,))
    return applied


class NotMigrated(SystemExit):
    pass


def pending(dsn: str) -> list[str]:
    """The migrations this code has that the database lacks (any role may read the record)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
        except psycopg.errors.UndefinedTable:
            done = set()
    return [m.name for m in available() if m.name not in done]


def require_migrated(dsn: str) -> None:
    """A service's first step: its role cannot migrate, so a database behind the code is a
    clear exit (the supervisor retries), not a missing table later."""
    missing = pending(dsn)
    if missing:
        raise NotMigrated(f"the database lacks migrations {', '.join(missing)}: "
                          "run `coldchain db migrate` as its owner (COLDCHAIN_DATABASE_URL)")
