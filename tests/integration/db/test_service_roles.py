"""Each service's PostgreSQL role (services/db/roles.py) on the real database: it holds exactly
the privileges declared for it, it is refused everything that could rewrite history (the
append-only audit log and its triggers, the seals, the readings), and the services do their
jobs connected as their roles."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import errors

from services.db.roles import EVERY_ROLE, ROLES, role
from tests.harness.stack import StackEndpoints

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")

# What no role may do, whatever its grants: only the owner alters tables, drops or disables
# triggers, replaces the functions behind them, or turns triggers off for a session.
EVERYONE_REFUSED = (
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_log_no_truncate ON audit_log",
    "ALTER TABLE shipment_seals DISABLE TRIGGER shipment_seals_final",
    "CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql"
    " AS $$ BEGIN RETURN OLD; END $$",
    "ALTER FUNCTION audit_row_change() SECURITY INVOKER",
    "SET session_replication_role = replica",
    "TRUNCATE audit_log",
    "DELETE FROM audit_log",
    "UPDATE audit_log SET actor = 'someone else'",
    "DROP TABLE audit_log",
    "ALTER TABLE readings ADD COLUMN forged text",
    "TRUNCATE readings",
    "DELETE FROM readings",
    "UPDATE readings SET temp_c = 4",
    "UPDATE readings SET time = time + interval '1 second'",
    "CREATE TABLE public.planted (x int)",
    "SELECT drop_chunks('readings', older_than => now() - interval '9000 days')",
)

REFUSED: dict[str, tuple[str, ...]] = {
    "ingest": (
        "INSERT INTO readings (time, device_id, source, received_at) VALUES (now(), 'X', 'json', now())",
        "INSERT INTO shipment_devices (shipment_id, device_id, packed_at) VALUES ('S', 'X', now())",
        "SELECT * FROM api_tokens",
        "SELECT * FROM shipments",
    ),
    "sink": (
        "UPDATE shipments SET sealed_at = now()",
        "INSERT INTO shipment_devices (shipment_id, device_id, packed_at) VALUES ('S', 'X', now())",
        "SELECT * FROM api_tokens",
        "SELECT * FROM audit_log",
        "INSERT INTO shipment_seals (shipment_id, device_id, sealed_at) VALUES ('S', 'X', now())",
        "SELECT coldchain_drop_chunks('readings', now() - interval '9000 days')",
    ),
    "api": (
        "INSERT INTO readings (time, device_id, source, received_at) VALUES (now(), 'X', 'json', now())",
        "UPDATE readings SET chain_hash = NULL",
        "INSERT INTO excursions (id) VALUES ('x')",
        "INSERT INTO audit_log (actor, action, table_name) VALUES ('ops:forged', 'insert', 'shipments')",
        "INSERT INTO dead_letters (id) VALUES ('x')",
        "INSERT INTO shipment_seals (shipment_id, device_id, sealed_at) VALUES ('S', 'X', now())",
        "DELETE FROM shipments",
        "SELECT coldchain_drop_chunks('readings', now() - interval '9000 days')",
    ),
    "alerts": (
        "INSERT INTO readings (time, device_id, source, received_at) VALUES (now(), 'X', 'json', now())",
        "UPDATE shipments SET sealed_at = now()",
        "SELECT * FROM api_tokens",
        "INSERT INTO audit_log (actor, action, table_name) VALUES ('x', 'x', 'x')",
    ),
    "retention": (
        "INSERT INTO readings (time, device_id, source, received_at) VALUES (now(), 'X', 'json', now())",
        "SELECT coldchain_drop_chunks('audit_log', now())",
        "SELECT * FROM api_tokens",
        "DELETE FROM shipment_seals",
    ),
    "auditor": (
        "INSERT INTO readings (time, device_id, source, received_at) VALUES (now(), 'X', 'json', now())",
        "INSERT INTO audit_log (actor, action, table_name) VALUES ('x', 'x', 'x')",
        "UPDATE shipments SET body = body",
        "SELECT * FROM api_tokens",
        "SELECT coldchain_drop_chunks('readings', now() - interval '9000 days')",
    ),
}


@pytest.fixture(scope="module")
def as_role(stack: StackEndpoints) -> Iterator[Callable[[str], psycopg.Connection]]:
    made: list[psycopg.Connection] = []

    def connect(service: str) -> psycopg.Connection:
        url = stack.env.get(role(service).env)
        if not url:
            pytest.skip(f"no {role(service).env} in this session's settings")
        conn = psycopg.connect(url, autocommit=True)
        made.append(conn)
        return conn

    yield connect
    for conn in made:
        conn.close()


def refused(conn: psycopg.Connection, statement: str) -> str:
    """The error PostgreSQL gives; fails the test when the statement goes through."""
    try:
        with conn.transaction():
            conn.execute(statement.encode())
            raise _WentThrough(statement)
    except _WentThrough:
        pytest.fail(f"{conn.info.user} may: {statement}")
    except (errors.InsufficientPrivilege, errors.RaiseException) as exc:
        return str(exc)
    raise AssertionError("unreachable")


class _WentThrough(Exception):
    pass


@pytest.mark.parametrize("service", [r.service for r in ROLES])
def test_a_role_is_only_a_login(service, as_role, db):
    conn = as_role(service)
    assert conn.info.user == role(service).name
    flags = db.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication, rolinherit"
                       " FROM pg_roles WHERE rolname = %s", (role(service).name,)).fetchone()
    assert flags == (False, False, False, False, False, True)
    owned = db.execute("SELECT count(*) FROM pg_class WHERE relowner = %s::regrole AND relpersistence <> 't'",
                       (role(service).name,)).fetchone()
    assert owned == (0,), "a role owns nothing but its session's temporary tables"
    members = db.execute("SELECT count(*) FROM pg_auth_members WHERE member = %s::regrole",
                         (role(service).name,)).fetchone()
    assert members == (0,), "a role inherits nothing"


@pytest.mark.parametrize("service", [r.service for r in ROLES])
def test_each_role_holds_exactly_its_grants(service, db):
    service_role = role(service)
    tables = [row[0] for row in db.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
    held = {(table, privilege) for table in tables for privilege in PRIVILEGES
            if db.execute("SELECT has_table_privilege(%s, %s, %s)",
                          (service_role.name, f"public.{table}", privilege)).fetchone() == (True,)}
    declared = {(table, privilege) for table in tables
                for privilege in service_role.tables.get(table) or EVERY_ROLE.get(table, ())}
    # "UPDATE (chain_hash)": a privilege on one column, not on the table
    on_columns = {(table, privilege) for table, privilege in declared if "(" in privilege}
    assert held == declared - on_columns
    for table, privilege in on_columns:
        action, column = privilege.rstrip(")").split(" (")
        assert db.execute("SELECT has_column_privilege(%s, %s, %s, %s)",
                          (service_role.name, f"public.{table}", column, action)).fetchone() == (True,)
        others = db.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
            " AND attname <> %s AND has_column_privilege(%s, attrelid, attnum, %s)",
            (f"public.{table}", column, service_role.name, action)).fetchall()
        assert others == []


def test_every_table_of_the_schema_is_declared(db):
    """A migration that adds a table names it in roles.py for the roles that use it."""
    declared = {table for r in ROLES for table in r.tables} | set(EVERY_ROLE)
    tables = {row[0] for row in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert tables - declared == set(), "tables no role may use: add them to services/db/roles.py"
    assert declared - tables == set(), "roles.py names tables the schema does not have"


@pytest.mark.parametrize("statement", EVERYONE_REFUSED)
@pytest.mark.parametrize("service", [r.service for r in ROLES])
def test_no_role_can_rewrite_history(service, statement, as_role):
    refused(as_role(service), statement)


@pytest.mark.parametrize(("service", "statement"), [(s, q) for s, qs in REFUSED.items() for q in qs])
def test_each_role_is_refused_what_is_not_its_job(service, statement, as_role):
    refused(as_role(service), statement)


def test_the_sink_may_re_link_a_reading_but_not_change_it(as_role, db):
    sink = as_role("sink")
    device_id = f"roles-{uuid.uuid4().hex[:8]}"
    with sink.transaction(force_rollback=True):
        sink.execute("INSERT INTO readings (time, device_id, temp_c, received_at) VALUES (now(), %s, 3, now())",
                     (device_id,))
        sink.execute("UPDATE readings SET chain_hash = '\\x01' WHERE device_id = %s", (device_id,))
        assert "permission denied" in refused(sink, f"UPDATE readings SET temp_c = 9 WHERE device_id = '{device_id}'")  # noqa: S608


def test_the_sink_may_only_append_to_the_audit_log(as_role, db):
    sink = as_role("sink")
    key = f"roles-{uuid.uuid4().hex[:8]}"
    sink.execute("INSERT INTO audit_log (actor, action, table_name, row_key) VALUES ('sink', 'chain-break',"
                 " 'readings', %s)", (key,))
    assert "must be owner" in refused(sink, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    assert "permission denied" in refused(sink, f"DELETE FROM audit_log WHERE row_key = '{key}'")  # noqa: S608
    assert db.execute("SELECT count(*) FROM audit_log WHERE row_key = %s", (key,)).fetchone() == (1,)


def test_audit_triggers_write_the_real_log_whoever_acts(as_role, db):
    """The audit triggers run as the owner with a fixed search path: a role needs no right on
    audit_log, and a temporary table of its own cannot take the log's place."""
    api = as_role("api")
    token_id = f"roles-{uuid.uuid4().hex[:8]}"
    api.execute("CREATE TEMP TABLE audit_log (LIKE public.audit_log)")
    try:
        api.execute("SET search_path = pg_temp, public")
        # a revoked token: audited on insert, and no use to anyone
        api.execute("INSERT INTO api_tokens (id, token_hash, role, revoked_at) VALUES (%s, %s, 'auditor', now())",
                    (token_id, uuid.uuid4().hex))
        assert api.execute("SELECT count(*) FROM pg_temp.audit_log").fetchone() == (0,)
    finally:
        api.execute("RESET search_path")
        api.execute("DROP TABLE pg_temp.audit_log")
    logged = db.execute("SELECT actor, action FROM audit_log WHERE table_name = 'api_tokens' AND row_key = %s",
                        (token_id,)).fetchall()
    assert logged == [("db:coldchain_api", "insert")]


def test_retention_drops_only_the_retained_tables(as_role):
    retention = as_role("retention")
    assert "not a retained table" in refused(retention, "SELECT coldchain_drop_chunks('audit_log', now())")
    assert "not a retained table" in refused(retention, "SELECT coldchain_drop_chunks('shipment_seals', now())")
    dropped = retention.execute("SELECT coldchain_drop_chunks('eta', '2000-01-01')").fetchone()
    assert dropped == (0,)


def test_the_services_run_as_their_roles(pipeline, db):
    """The session's pipeline (ingest, sink, API, processors) is connected as its roles, never
    as the owner."""
    users = {row[0] for row in db.execute(
        "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND usename LIKE 'coldchain_%'")}
    assert {"coldchain_ingest", "coldchain_sink", "coldchain_api"} <= users
