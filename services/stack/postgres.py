"""PostgreSQL 15 with TimescaleDB 2.19.3 built from Debian's source package, in a cluster of
the project's own on its own port."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from services.stack.debian import BUILD_PACKAGES, ensure_installed
from services.stack.layout import StackLayout
from services.stack.ports import StackPorts
from services.stack.process import StackError, as_user, chown_to, port_open, run, wait_until
from services.stack.secrets import StackSecrets

PG_BIN = Path("/usr/lib/postgresql/15/bin")
TIMESCALEDB_VERSION = "2.19.3"
DB_USER = "coldchain"
DB_NAME = "coldchain"
OS_USER = "postgres"


def _pg_config_value(flag: str) -> Path:
    return Path(run([str(PG_BIN / "pg_config"), flag], "pg_config").strip())


def timescaledb_installed() -> bool:
    if not (PG_BIN / "pg_config").exists():
        return False
    sharedir = _pg_config_value("--sharedir")
    return (sharedir / "extension" / f"timescaledb--{TIMESCALEDB_VERSION}.sql").exists()


def _debian_mirror() -> str:
    """The Debian mirror this machine already uses, for a private deb-src list."""
    for source in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if not source.exists():
            continue
        for line in source.read_text().splitlines():
            words = line.split()
            if line.startswith("URIs:") and len(words) > 1:
                return words[1]
            if words[:1] == ["deb"] and "debian" in line:
                return next(w for w in words[1:] if "://" in w)
    raise StackError("no Debian mirror found in /etc/apt/sources.list(.d)")


def build_timescaledb(layout: StackLayout) -> None:
    """``apt-get source`` from trixie with a private list (the system's lists stay as they
    are), then the Apache-only cmake build against postgresql-server-dev-15."""
    ensure_installed(BUILD_PACKAGES)
    work = layout.downloads / "timescaledb"
    lists = work / "lists"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    sources = work / "sources.list"
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    sources.write_text(f"deb-src [signed-by={keyring}] {_debian_mirror()} trixie main\n")
    apt = ["apt-get", "-q", f"-o=Dir::Etc::sourcelist={sources}",
           "-o=Dir::Etc::sourceparts=/dev/null", f"-o=Dir::State::Lists={lists}"]
    tarballs = list(work.glob(f"timescaledb_{TIMESCALEDB_VERSION}*.orig.tar.*"))
    if not tarballs:
        run([*apt, "update"], "apt-get update (trixie deb-src)")
        run([*apt, "source", "--download-only", f"timescaledb={TIMESCALEDB_VERSION}*"],
            "apt-get source timescaledb", cwd=work)
        tarballs = list(work.glob(f"timescaledb_{TIMESCALEDB_VERSION}*.orig.tar.*"))
    if not tarballs:
        raise StackError(f"apt-get source gave no timescaledb {TIMESCALEDB_VERSION} tarball")
    source_dir = work / f"timescaledb-{TIMESCALEDB_VERSION}"
    shutil.rmtree(source_dir, ignore_errors=True)
    with tarfile.open(tarballs[0]) as archive:
        archive.extractall(work, filter="data")
    log = layout.log_file("timescaledb-build")
    run(["./bootstrap", "-DAPACHE_ONLY=1", "-DREGRESS_CHECKS=OFF", "-DTAP_CHECKS=OFF",
         "-DSEND_TELEMETRY_DEFAULT=OFF", "-DUSE_TELEMETRY=OFF", "-DWARNINGS_AS_ERRORS=OFF",
         f"-DPG_CONFIG={PG_BIN / 'pg_config'}"], "timescaledb bootstrap", log=log, cwd=source_dir)
    run(["make", "-j2", "install"], "timescaledb build", log=log, cwd=source_dir / "build")


class Postgres:
    name = "timescaledb"

    def __init__(self, layout: StackLayout, ports: StackPorts, secrets: StackSecrets) -> None:
        self.layout = layout
        self.ports = ports
        self.secrets = secrets
        self.data_dir = layout.data / "postgres"

    @property
    def url(self) -> str:
        return (f"postgresql://{DB_USER}:{self.secrets.postgres_password}"
                f"@{self.ports.host}:{self.ports.postgres}/{DB_NAME}")

    @property
    def endpoint(self) -> str:
        return f"postgresql://{self.ports.host}:{self.ports.postgres}/{DB_NAME}"

    def install(self) -> None:
        ensure_installed(("postgresql-15",))
        if not timescaledb_installed():
            build_timescaledb(self.layout)

    def _init_cluster(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
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
        # -p: the port of this run's offset, not the one written into postgresql.conf at initdb
        run(as_user(OS_USER, [str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-l", str(log),
                              "-o", f"-p {self.ports.postgres}", "-w", "-t", "60", "start"]),
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
