"""PostgreSQL 15 with TimescaleDB (2.19 or a later 2.x) built from Debian's source package, in a cluster of
the project's own on its own port."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from devtools.stack.debian import BUILD_PACKAGES, ensure_installed
from devtools.stack.layout import StackLayout
from devtools.stack.ports import StackPorts
from devtools.stack.process import StackError, as_user, chown_to, port_open, run, step, wait_until
from devtools.stack.secrets import StackSecrets
from devtools.stack.timescaledb import SUITE, SourceVersion, TrixieSources, debian_mirror, supported_range
from services.db.roles import ROLES, prepare_database

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DB_USER = "coldchain"
DB_NAME = "coldchain"
OS_USER = "postgres"


def _pg_config_value(flag: str) -> Path:
    return Path(run([str(PG_BIN / "pg_config"), flag], "pg_config").strip())


def installed_timescaledb() -> SourceVersion | None:
    """The TimescaleDB build PostgreSQL 15 would load, if any: its control file's default."""
    if not (PG_BIN / "pg_config").exists():
        return None
    extension = _pg_config_value("--sharedir") / "extension"
    control = extension / "timescaledb.control"
    library = _pg_config_value("--pkglibdir") / "timescaledb.so"
    if not control.exists() or not library.exists():
        return None
    match = re.search(r"default_version\s*=\s*'([^']+)'", control.read_text())
    if not match or not (extension / f"timescaledb--{match.group(1)}.sql").exists():
        return None
    return SourceVersion(match.group(1))


def build_timescaledb(layout: StackLayout) -> None:
    """Trixie's source package (the version it serves now, if supported; a cached tarball is
    reused), then the Apache-only cmake build against postgresql-server-dev-15."""
    ensure_installed(BUILD_PACKAGES)
    work = layout.downloads / "timescaledb"
    work.mkdir(parents=True, exist_ok=True)
    tarball = next((t for t in sorted(work.glob("timescaledb_*.orig.tar.*"))
                    if SourceVersion(t.name.split("_", 1)[1]).supported()), None)
    if tarball is None:
        sources = TrixieSources(work, debian_mirror())
        step(f"TimescaleDB: reading the version Debian {SUITE} serves")
        version = sources.resolve()
        step(f"TimescaleDB: {SUITE} serves {version.debian}, supported ({supported_range()}); downloading")
        tarball = sources.download(version, work)
    upstream = SourceVersion(tarball.name.split("_", 1)[1]).upstream
    source_dir = work / f"timescaledb-{upstream}"
    shutil.rmtree(source_dir, ignore_errors=True)
    with tarfile.open(tarball) as archive:
        archive.extractall(work, filter="data")
    log = layout.log_file("timescaledb-build")
    step(f"TimescaleDB {upstream}: building (Apache-only, cmake; about a minute; log {log})")
    run(["./bootstrap", "-DAPACHE_ONLY=1", "-DREGRESS_CHECKS=OFF", "-DTAP_CHECKS=OFF",
         "-DSEND_TELEMETRY_DEFAULT=OFF", "-DUSE_TELEMETRY=OFF", "-DWARNINGS_AS_ERRORS=OFF",
         f"-DPG_CONFIG={PG_BIN / 'pg_config'}"], "timescaledb bootstrap", log=log, cwd=source_dir)
    run(["make", "-j2", "install"], "timescaledb build", log=log, cwd=source_dir / "build")
    if installed_timescaledb() is None:
        raise StackError(f"TimescaleDB {upstream} built but PostgreSQL 15 does not see it (log {log})")


def let_reach(user: str, folder: Path) -> None:
    """PostgreSQL runs as its own account, which must reach the stack folder: a checkout in
    root's home or in a private temporary folder (mode 0700) is closed to it. Such ancestors
    get an ACL entry that lets that one account pass through (search, not list), no more."""
    if os.geteuid() != 0 or _reaches(user, folder):
        return
    closed = [p for p in (folder, *folder.parents) if not p.stat().st_mode & 0o001]
    step(f"letting the {user} account pass through {', '.join(map(str, closed))} (setfacl u:{user}:x)")
    ensure_installed(("acl",))
    for path in closed:
        run(["setfacl", "-m", f"u:{user}:x", str(path)], f"setfacl on {path}")
    if not _reaches(user, folder):
        raise StackError(f"the {user} account cannot reach {folder}; move the checkout, or set "
                         "COLDCHAIN_STACK_DIR to a folder it can reach")


def _reaches(user: str, folder: Path) -> bool:
    probe = subprocess.run(as_user(user, ["test", "-x", str(folder)]), capture_output=True, check=False)
    return probe.returncode == 0



# A landing burst writes a few GB of WAL in minutes (readings, their chain links, indexes).
# With the default 1 GB max_wal_size a checkpoint started every ~17 s (the PostgreSQL log's
# "checkpoints are occurring too frequently"), and every page first written after one is
# logged whole again. Durability is unchanged: commits still wait for their WAL flush.
WAL_SETTINGS = ("max_wal_size=8GB", "checkpoint_timeout=15min", "wal_compression=lz4")

class Postgres:
    name = "timescaledb"

    def __init__(self, layout: StackLayout, ports: StackPorts, secrets: StackSecrets) -> None:
        self.layout = layout
        self.ports = ports
        self.secrets = secrets
        self.data_dir = layout.data / "postgres"

    @property
    def url(self) -> str:
        """The owner's: migrations, and the operator's commands."""
        return (f"postgresql://{DB_USER}:{self.secrets.postgres_password}"
                f"@{self.ports.host}:{self.ports.postgres}/{DB_NAME}")

    def role_urls(self) -> dict[str, str]:
        """Each service's own DSN, as its role (services/db/roles.py), by variable."""
        return {role.env: (f"postgresql://{role.name}:{self.secrets.database_role_password(role.name)}"
                           f"@{self.ports.host}:{self.ports.postgres}/{DB_NAME}") for role in ROLES}

    def prepare(self) -> list[str]:
        """As the owner: the migrations, the roles' grants and their logins."""
        return prepare_database(self.url, self.role_urls())

    @property
    def endpoint(self) -> str:
        return f"postgresql://{self.ports.host}:{self.ports.postgres}/{DB_NAME}"

    def install(self) -> None:
        ensure_installed(("postgresql-15",))
        installed = installed_timescaledb()
        if installed is None or not installed.supported():
            build_timescaledb(self.layout)

    def _init_cluster(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        let_reach(OS_USER, self.layout.root)
        pwfile = self.layout.run / "pg.pw"
        pwfile.write_text(self.secrets.postgres_password + "\n")
        chown_to(OS_USER, self.data_dir, pwfile)
        self.data_dir.chmod(0o700)
        try:
            run(as_user(OS_USER, [str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U", DB_USER,
                                  f"--pwfile={pwfile}", "--auth-local=trust",
                                  "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"]),
                "initdb", log=self.layout.log_file("initdb"))
        finally:
            pwfile.unlink(missing_ok=True)
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as out:
            out.write(
                "\n# coldchain's local cluster\n"
                f"listen_addresses = '{self.ports.host}'\n"
                f"port = {self.ports.postgres}\n"
                f"unix_socket_directories = '{self.layout.run}'\n"
                "shared_preload_libraries = 'timescaledb'\n"
                "timescaledb.telemetry_level = off\n"
                "shared_buffers = 256MB\n"
                "max_connections = 200\n"
            )

    def start(self) -> bool:
        if self.answers():
            return False
        self._init_cluster()
        log = self.layout.log_file("postgres")
        log.touch()
        chown_to(OS_USER, log, self.layout.run)
        # -p: the port of this run's offset, not the one written into postgresql.conf at initdb;
        # the WAL settings on the command line too, so a cluster made before them gets them.
        options = " ".join([f"-p {self.ports.postgres}", *(f"-c {s}" for s in WAL_SETTINGS)])
        run(as_user(OS_USER, [str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-l", str(log),
                              "-o", options, "-w", "-t", "60", "start"]),
            "pg_ctl start", log=self.layout.log_file("pg_ctl"))
        wait_until(self.answers, "PostgreSQL", 30, log)
        self._create_database()
        return True

    def _psql(self, sql: str, db: str = "postgres") -> str:
        return run(as_user(OS_USER, [str(PG_BIN.parent / "bin" / "psql"), "-h", str(self.layout.run),
                                     "-p", str(self.ports.postgres), "-U", DB_USER, "-d", db,
                                     "-tAc", sql]), f"psql: {sql}")

    def _create_database(self) -> None:
        if not self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'").strip():  # noqa: S608
            self._psql(f"CREATE DATABASE {DB_NAME}")

    def stop(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        run(as_user(OS_USER, [str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast",
                              "-w", "stop"]), "pg_ctl stop")
        return True

    def answers(self) -> bool:
        if not port_open(self.ports.host, self.ports.postgres):
            return False
        probe = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-h", self.ports.host, "-p", str(self.ports.postgres)],
            capture_output=True, check=False, env={**os.environ},
        )
        return probe.returncode == 0
