"""Every install path of the native stack, resolved and downloaded against the registries into
a scratch folder, without building or installing anything.

A machine that already has the stack installed skips every download in ``coldchain stack up``;
this check does not, so a registry change that would break a fresh machine fails here first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from devtools.stack.debian import BROWSER_PACKAGES, BUILD_PACKAGES, RUNTIME_PACKAGES
from devtools.stack.kafka import POM
from devtools.stack.process import run, step
from devtools.stack.timescaledb import TrixieSources, debian_mirror

DEBIAN_PACKAGES = (*RUNTIME_PACKAGES, *BUILD_PACKAGES, *BROWSER_PACKAGES)


@dataclass(frozen=True)
class Fetched:
    what: str
    detail: str
    files: tuple[Path, ...]

    @property
    def size(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def check_timescaledb_source(scratch: Path) -> Fetched:
    sources = TrixieSources(scratch / "timescaledb", debian_mirror())
    version = sources.resolve()
    tarball = sources.download(version, scratch / "timescaledb" / "download")
    return Fetched("Debian source package", f"timescaledb {version.debian}", (tarball,))


def check_debian_packages(scratch: Path) -> Fetched:
    """``apt-get download`` of each package the stack installs (whether or not this machine has
    it), and a simulated install of them all, which resolves their dependencies."""
    folder = scratch / "debs"
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], "apt-get update", env=env)
    run(["apt-get", "download", "-q", *DEBIAN_PACKAGES], "apt-get download", cwd=folder, env=env)
    run(["apt-get", "install", "--simulate", "-q", "--no-install-recommends", *DEBIAN_PACKAGES],
        "apt-get install --simulate", env=env)
    debs = tuple(sorted(folder.glob("*.deb")))
    return Fetched("Debian binary packages", " ".join(DEBIAN_PACKAGES), debs)


def check_maven_artifacts(scratch: Path) -> Fetched:
    """Kafka's jars into an empty local repository, so nothing comes from this machine's cache."""
    repo = scratch / "m2"
    run(["mvn", "-q", "-B", "-f", str(POM), f"-Dmaven.repo.local={repo}", "dependency:resolve",
         "-DincludeScope=runtime"], "mvn dependency:resolve (Kafka jars, empty repository)")
    jars = tuple(sorted(p for p in repo.rglob("*.jar") if "org/apache/maven" not in p.as_posix()))
    return Fetched("Maven artifacts", POM.name, jars)


CHECKS = (check_timescaledb_source, check_debian_packages, check_maven_artifacts)


def check_sources(scratch: Path) -> list[Fetched]:
    fetched = []
    for check in CHECKS:
        step(f"checking {check.__name__.removeprefix('check_').replace('_', ' ')}")
        result = check(scratch)
        step(f"  {result.what}: {result.detail}: {len(result.files)} files, {result.size / 1e6:.1f} MB")
        fetched.append(result)
    return fetched
