"""Every install path of the native stack against the real registries, as a fresh machine would
meet it: this machine may already have everything installed, so `coldchain stack up` would skip
the downloads and a registry change that breaks a fresh install would go unseen.

Nothing is built or installed; each source is resolved and downloaded into a scratch folder."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from devtools.stack.sources_check import (
    DEBIAN_PACKAGES,
    check_debian_packages,
    check_maven_artifacts,
    check_timescaledb_source,
)


def test_trixie_serves_a_supported_timescaledb_source_and_it_downloads(tmp_path: Path) -> None:
    fetched = check_timescaledb_source(tmp_path)
    (tarball,) = fetched.files
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert any(name.endswith("/bootstrap") for name in names), "not a TimescaleDB source tree"
    assert any(name.endswith("/CMakeLists.txt") for name in names)


def test_every_debian_package_the_stack_installs_is_served(tmp_path: Path) -> None:
    fetched = check_debian_packages(tmp_path)
    names = {deb.name.split("_", 1)[0] for deb in fetched.files}
    assert names == set(DEBIAN_PACKAGES)
    assert all(deb.stat().st_size > 0 for deb in fetched.files)


@pytest.mark.timeout(600)
def test_kafka_jars_resolve_from_maven_central_into_an_empty_repository(tmp_path: Path) -> None:
    fetched = check_maven_artifacts(tmp_path)
    names = {jar.name for jar in fetched.files}
    assert "kafka_2.13-3.9.1.jar" in names and "kafka-clients-3.9.1.jar" in names
    assert any(name.startswith("reload4j-") for name in names)  # the logging binding the POM adds
