"""Which TimescaleDB source version the stack takes from trixie's index, and the one line it
says when it takes none."""

from __future__ import annotations

import pytest
from devtools.stack.process import StackError
from devtools.stack.timescaledb import SourceVersion, choose, served_versions

SHOWSRC = """Package: timescaledb
Binary: postgresql-17-timescaledb
Version: {version}
Maintainer: Debian PostgreSQL Maintainers
Files:
 0123 2345 timescaledb_{upstream}.orig.tar.xz

Package: timescaledb-tools
Version: 0.18.0-1
"""


def index(version: str) -> str:
    return SHOWSRC.format(version=version, upstream=version.split("-")[0])


def test_the_served_point_release_is_read_from_the_index_not_assumed() -> None:
    served = served_versions(index("2.19.3+dfsg-1+deb13u2"))
    assert served == [SourceVersion("2.19.3+dfsg-1+deb13u2")]  # the other package's version is not ours
    assert choose(served).debian == "2.19.3+dfsg-1+deb13u2"
    assert choose(served).upstream == "2.19.3"


@pytest.mark.parametrize("version", ["2.19.3+dfsg-1+deb13u1", "2.20.0+dfsg-1", "1:2.24.1-2"])
def test_supported_versions_are_taken(version: str) -> None:
    assert choose(served_versions(index(version))).debian == version


@pytest.mark.parametrize("version", ["2.18.2+dfsg-1", "3.0.0-1", "weird"])
def test_an_unsupported_version_is_refused_in_one_line_naming_what_was_found(version: str) -> None:
    with pytest.raises(StackError) as refused:
        choose(served_versions(index(version)))
    message = str(refused.value)
    assert version in message and "supports TimescaleDB 2.19.x" in message
    assert "\n" not in message


def test_no_source_package_at_all_is_said_so() -> None:
    with pytest.raises(StackError, match="serves no source package 'timescaledb'"):
        choose(served_versions("Package: other\nVersion: 1.0\n"))


def test_the_newest_supported_of_several_is_taken() -> None:
    served = [SourceVersion("2.19.3+dfsg-1"), SourceVersion("2.21.1+dfsg-1"), SourceVersion("3.1.0-1")]
    assert choose(served).debian == "2.21.1+dfsg-1"
