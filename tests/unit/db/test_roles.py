"""Which DSN each service uses, and what the owner takes from the DSNs (services/db/roles.py)."""

from __future__ import annotations

import pytest
from devtools.stack.secrets import StackSecrets

from services.alerts.settings import AlertSettings
from services.api.settings import ApiSettings
from services.connections import AuditorDatabaseSettings, DatabaseSettings
from services.db.roles import ROLES, WRITE, login_of, on_one_database, own_dsns, role
from services.ingest.settings import IngestSettings
from services.retention.settings import RetentionSettings
from services.sink.settings import SinkSettings

OWNER = "postgresql://coldchain:owner@127.0.0.1:55432/coldchain"
SETTINGS = {"ingest": IngestSettings, "sink": SinkSettings, "api": ApiSettings, "alerts": AlertSettings,
            "retention": RetentionSettings, "auditor": AuditorDatabaseSettings}


@pytest.fixture(autouse=True)
def _no_database_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in on_one_database(""):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLDCHAIN_ALERT_ACK_SECRET", "a-test-secret-of-enough-length-0123")
    monkeypatch.setenv("COLDCHAIN_DATABASE_URL", OWNER)


@pytest.mark.parametrize("service", list(SETTINGS))
def test_a_service_uses_its_own_dsn_and_falls_back_to_the_owners(service, monkeypatch):
    assert SETTINGS[service]().dsn == OWNER
    own = f"postgresql://{role(service).name}:pw@db:5432/coldchain"
    monkeypatch.setenv(role(service).env, own)
    assert SETTINGS[service]().dsn == own
    assert DatabaseSettings().dsn == OWNER  # the operator's commands stay the owner's


def test_every_role_has_its_settings_field_and_no_two_share_a_name():
    settings = DatabaseSettings()
    for service_role in ROLES:
        assert hasattr(settings, service_role.env.removeprefix("COLDCHAIN_").lower())
    assert len({r.name for r in ROLES}) == len({r.env for r in ROLES}) == len(ROLES)
    assert all(r.name.startswith("coldchain_") for r in ROLES)


def test_the_owner_takes_each_roles_password_from_its_dsn(monkeypatch):
    monkeypatch.setenv("COLDCHAIN_SINK_DATABASE_URL", "postgresql://coldchain_sink:s%40cret@db/coldchain")
    monkeypatch.setenv("COLDCHAIN_API_DATABASE_URL", "postgresql://someone_else:pw@db/coldchain")
    dsns = own_dsns(DatabaseSettings())
    assert set(dsns) == {"COLDCHAIN_SINK_DATABASE_URL", "COLDCHAIN_API_DATABASE_URL"}
    sink = login_of(role("sink"), dsns["COLDCHAIN_SINK_DATABASE_URL"])
    assert sink is not None and sink.password == "s@cret"
    assert login_of(role("api"), dsns["COLDCHAIN_API_DATABASE_URL"]) is None  # another account: the operator's
    assert login_of(role("api"), None) is None


def test_no_role_may_truncate_or_touch_the_audit_log_beyond_appending():
    for service_role in ROLES:
        # a column privilege ("UPDATE (chain_hash)") is one of WRITE limited to some columns
        assert all(p.partition(" (")[0] in WRITE for privileges in service_role.tables.values() for p in privileges)
        assert set(service_role.tables.get("audit_log", ())) <= {"SELECT", "INSERT"}
        assert "INSERT" not in role("api").tables.get("readings", ())
        assert "UPDATE" not in role("sink").tables["readings"]  # only its hash, never a temperature
        assert set(service_role.tables.get("shipment_seals", ())) <= {"SELECT", "INSERT"}


def test_the_local_stacks_role_passwords_are_stable_and_distinct():
    secrets = StackSecrets("owner-pw", "m1", "m2", "ack")
    passwords = {r.name: secrets.database_role_password(r.name) for r in ROLES}
    assert passwords == {r.name: secrets.database_role_password(r.name) for r in ROLES}
    assert len(set(passwords.values())) == len(ROLES) and "owner-pw" not in passwords.values()
    other = StackSecrets("other", "m1", "m2", "ack")
    assert other.database_role_password("coldchain_sink") != passwords["coldchain_sink"]
