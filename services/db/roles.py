"""One least-privilege PostgreSQL role per service (README "Database roles").

The owner (``COLDCHAIN_DATABASE_URL``: the account that owns the tables, a superuser on the
local stack) migrates, then :func:`apply_grants` gives each role exactly the privileges below
and takes away any other it holds on the tables of the schema; :func:`set_logins` lets a role
log in with the password of its service's own DSN (``COLDCHAIN_<SERVICE>_DATABASE_URL``).
Services never migrate; they connect with their own DSN, falling back to
``COLDCHAIN_DATABASE_URL`` when theirs is not set.

Nothing here grants ``TRUNCATE``, ``REFERENCES`` or ``TRIGGER``, and no role owns a table, so
only the owner can alter or drop a table or disable the append-only triggers of
``audit_log`` and ``shipment_seals``. The audit triggers run as the owner (``SECURITY DEFINER``,
0700_service_roles.sql), so a role that changes an audited table need not write ``audit_log``.
Roles are cluster-wide: the same names serve every database of the cluster, each with its own
grants; creating them is idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql

from services.connections import DatabaseSettings

SELECT, INSERT, UPDATE, DELETE = "SELECT", "INSERT", "UPDATE", "DELETE"
READ = (SELECT,)
WRITE = (SELECT, INSERT, UPDATE, DELETE)


def on_columns(privilege: str, *columns: str) -> str:
    """A column privilege (``UPDATE (chain_hash)``): the statement may touch these columns only."""
    return f"{privilege} ({', '.join(columns)})"


@dataclass(frozen=True)
class ServiceRole:
    service: str  # as `coldchain run SERVICE` names it; "auditor" is the read-only SQL account
    name: str  # the PostgreSQL role
    env: str  # the service's own DSN variable
    tables: Mapping[str, tuple[str, ...]]
    functions: tuple[str, ...] = field(default=())  # EXECUTE, beyond PUBLIC's


# What each service reads and writes (grep of its SQL; tests/integration/db proves each one
# still works and is refused the rest).
ROLES: tuple[ServiceRole, ...] = (
    # the binding cache, refreshed on NOTIFY coldchain_bindings (LISTEN needs no grant)
    ServiceRole("ingest", "coldchain_ingest", "COLDCHAIN_INGEST_DATABASE_URL", {
        "shipment_devices": READ,
    }),
    # readings, their hash chain, excursions, ETA updates and dead letters; a chain break it
    # finds is appended to the audit log, which it can neither change nor empty
    ServiceRole("sink", "coldchain_sink", "COLDCHAIN_SINK_DATABASE_URL", {
        # a late reading re-links the device's later readings: their hash, nothing else
        "readings": (SELECT, INSERT, on_columns(UPDATE, "chain_hash")),
        "reading_chain_anchors": READ,
        "excursions": (SELECT, INSERT, UPDATE),
        "eta": (SELECT, INSERT),
        "dead_letters": (SELECT, INSERT),
        "audit_log": (INSERT,),
    }),
    # the outbox and its policy state, share links made for deliveries, shipments looked up
    ServiceRole("alerts", "coldchain_alerts", "COLDCHAIN_ALERT_DATABASE_URL", {
        "alerts": WRITE,
        "alert_deliveries": WRITE,
        "alert_policy_state": WRITE,
        "share_links": (SELECT, INSERT),
        "shipments": READ,
    }),
    # the registry, tokens, share links and acknowledgements; everything else read-only
    ServiceRole("api", "coldchain_api", "COLDCHAIN_API_DATABASE_URL", {
        "shipments": (SELECT, INSERT, UPDATE),
        "shipment_devices": WRITE,
        "api_tokens": (SELECT, INSERT),
        "share_links": (SELECT, INSERT, UPDATE),
        "alerts": (SELECT, UPDATE),
        "alert_deliveries": (SELECT, UPDATE),
        "alert_policy_state": READ,
        "readings": READ,
        "reading_chain_anchors": READ,
        "excursions": READ,
        "eta": READ,
        "dead_letters": READ,
        "audit_log": READ,
        "shipment_seals": READ,
    }),
    # seals due shipments, anchors the chains, drops old chunks through the owner's functions
    ServiceRole("retention", "coldchain_retention", "COLDCHAIN_RETENTION_DATABASE_URL", {
        "shipments": (SELECT, UPDATE),
        "shipment_devices": (SELECT, UPDATE),
        "shipment_seals": (SELECT, INSERT),
        "readings": READ,
        "reading_chain_anchors": (SELECT, INSERT, UPDATE),
        "eta": READ,
        "audit_log": (INSERT,),
    }, functions=("coldchain_drop_chunks(regclass, timestamptz)", "coldchain_compress_readings(timestamptz)")),
    # auditors, BI tools, `coldchain report`, `verify` and `eta calibrate`: read-only, no tokens
    ServiceRole("auditor", "coldchain_auditor", "COLDCHAIN_AUDITOR_DATABASE_URL", {
        name: READ for name in (
            "readings", "reading_chain_anchors", "shipments", "shipment_devices",
            "shipment_seals", "excursions", "eta", "alerts", "alert_deliveries", "share_links",
            "dead_letters", "audit_log")
    }),
)

# Every role may read which migrations are applied (services.db.migrate.require_migrated).
EVERY_ROLE: Mapping[str, tuple[str, ...]] = {"schema_migrations": READ}


def role(service: str) -> ServiceRole:
    return next(r for r in ROLES if r.service == service)


def role_names() -> list[str]:
    return [r.name for r in ROLES]


def dsn_variables() -> list[str]:
    """Every variable that names a database: the owner's, then each service's own."""
    return ["COLDCHAIN_DATABASE_URL", *(r.env for r in ROLES)]


def on_one_database(url: str) -> dict[str, str]:
    """Every DSN variable set to ``url``: a test or bench that points everything at a private
    schema (as the owner) so that no service's own DSN leads elsewhere."""
    return dict.fromkeys(dsn_variables(), url)


def own_dsns(settings: DatabaseSettings) -> dict[str, str]:
    """The services' own DSNs that ``settings`` holds (environment or ``.env``), by variable."""
    found = {r.env: getattr(settings, r.env.removeprefix("COLDCHAIN_").lower()) for r in ROLES}
    return {env: url.get_secret_value() for env, url in found.items() if url is not None}


def create_roles(conn: psycopg.Connection) -> None:
    """Each role, NOLOGIN until :func:`set_logins`; nothing changes for one that exists."""
    existing = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                                               (role_names(),))}
    for name in role_names():
        if name not in existing:
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
            except psycopg.errors.DuplicateObject:  # another database of the cluster just made it
                pass


def apply_grants(conn: psycopg.Connection, schema: str = "public") -> None:
    """Exactly the privileges of :data:`ROLES` on ``schema``'s tables, in one transaction."""
    create_roles(conn)
    tables = [row[0] for row in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v') ORDER BY 1", (schema,))]
    with conn.transaction():
        conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
            sql.Identifier(conn.info.dbname), sql.SQL(", ").join(map(sql.Identifier, role_names()))))
        for service_role in ROLES:
            who = sql.Identifier(service_role.name)
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), who))
            for table in tables:
                # named one by one: TimescaleDB passes a hypertable's grants on to its chunks
                target = sql.Identifier(schema, table)
                conn.execute(sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(target, who))
                privileges = service_role.tables.get(table) or EVERY_ROLE.get(table)
                if privileges:
                    conn.execute(sql.SQL("GRANT {} ON TABLE {} TO {}").format(
                        sql.SQL(", ").join(map(sql.SQL, privileges)), target, who))
            conn.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(
                sql.Identifier(schema), who))
            for function in service_role.functions:
                conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(function), who))


@dataclass(frozen=True)
class Login:
    role: str
    password: str


def login_of(service_role: ServiceRole, url: str | None) -> Login | None:
    """The password a service's own DSN gives its role; None when the DSN is not set or names
    another account (that one is the operator's to manage)."""
    if not url:
        return None
    parts = urlsplit(url)
    if unquote(parts.username or "") != service_role.name or not parts.password:
        return None
    return Login(service_role.name, unquote(parts.password))


def set_logins(conn: psycopg.Connection, env: Mapping[str, str]) -> list[str]:
    """Lets each role whose own DSN is in ``env`` log in with that DSN's password; returns them."""
    done = []
    for service_role in ROLES:
        login = login_of(service_role, env.get(service_role.env))
        if login is None:
            continue
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(login.role), sql.Literal(login.password)))
        done.append(login.role)
    return done


def prepare_database(owner_dsn: str, env: Mapping[str, str]) -> list[str]:
    """What the owner does once per deployment (`coldchain db migrate`, `coldchain stack up`):
    migrations, the roles' grants, their logins from ``env``. Returns the migrations applied."""
    from services.db.migrate import migrate

    applied = migrate(owner_dsn)
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        set_logins(conn, env)
    return applied
