"""TimescaleDB's source from Debian trixie: which version is served now, and whether we take it.

Debian point releases change a package's revision suffix (``+deb13u1`` → ``+deb13u2``) and stop
serving the old one, so the version is read from trixie's source index at install time and
never written into the code; only the range of upstream versions the project supports is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from devtools.stack.process import StackError, run

PACKAGE = "timescaledb"
SUITE = "trixie"
# 2.19 is the first the suite ran on; later 2.x are accepted (the SQL API is stable within 2.x).
SUPPORTED_MAJOR = 2
MIN_MINOR = 19
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

_UPSTREAM = re.compile(r"^(?:\d+:)?(?P<upstream>(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+))")


@dataclass(frozen=True)
class SourceVersion:
    """A version trixie's source index serves, e.g. ``2.19.3+dfsg-1+deb13u1``."""

    debian: str

    @property
    def upstream(self) -> str:
        match = _UPSTREAM.match(self.debian)
        return match.group("upstream") if match else self.debian

    def supported(self) -> bool:
        match = _UPSTREAM.match(self.debian)
        if not match:
            return False
        return int(match.group("major")) == SUPPORTED_MAJOR and int(match.group("minor")) >= MIN_MINOR


def supported_range() -> str:
    return f"{SUPPORTED_MAJOR}.{MIN_MINOR}.x or a later {SUPPORTED_MAJOR}.x"


def served_versions(showsrc_output: str) -> list[SourceVersion]:
    """The ``Version:`` fields of ``apt-cache showsrc`` for our package, in index order."""
    versions: list[SourceVersion] = []
    package = None
    for line in showsrc_output.splitlines():
        if line.startswith("Package:"):
            package = line.split(":", 1)[1].strip()
        elif line.startswith("Version:") and package == PACKAGE:
            versions.append(SourceVersion(line.split(":", 1)[1].strip()))
    return versions


def choose(served: list[SourceVersion]) -> SourceVersion:
    """The newest supported version served, or a StackError that says what was found and why
    each was refused."""
    if not served:
        raise StackError(f"Debian {SUITE} serves no source package {PACKAGE!r} "
                         f"(wanted TimescaleDB {supported_range()})")
    accepted = [v for v in served if v.supported()]
    if not accepted:
        found = ", ".join(v.debian for v in served)
        raise StackError(f"Debian {SUITE} serves {PACKAGE} {found}: refused, coldchain supports "
                         f"TimescaleDB {supported_range()}")
    return max(accepted, key=lambda v: tuple(int(p) for p in v.upstream.split(".")))


class TrixieSources:
    """A private deb-src list for trixie under ``work``: the system's own apt lists stay as
    they are."""

    def __init__(self, work: Path, mirror: str) -> None:
        self.work = work
        self.mirror = mirror

    def _apt_options(self) -> list[str]:
        lists = self.work / "lists"
        return [f"-o=Dir::Etc::sourcelist={self.work / 'sources.list'}",
                "-o=Dir::Etc::sourceparts=/dev/null", f"-o=Dir::State::Lists={lists}"]

    def update(self) -> None:
        (self.work / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (self.work / "sources.list").write_text(f"deb-src [signed-by={KEYRING}] {self.mirror} {SUITE} main\n")
        run(["apt-get", "-q", *self._apt_options(), "update"], f"apt-get update ({SUITE} deb-src)")

    def resolve(self) -> SourceVersion:
        self.update()
        output = run(["apt-cache", *self._apt_options(), "showsrc", PACKAGE], f"apt-cache showsrc {PACKAGE}")
        return choose(served_versions(output))

    def download(self, version: SourceVersion, into: Path) -> Path:
        """Exactly that version's upstream tarball, into ``into``; returns its path."""
        into.mkdir(parents=True, exist_ok=True)
        run(["apt-get", "-q", *self._apt_options(), "source", "--download-only",
             f"{PACKAGE}={version.debian}"], f"apt-get source {PACKAGE}={version.debian}", cwd=into)
        return cached_tarball(into, version.upstream) or _missing_tarball(into, version)


def cached_tarball(folder: Path, upstream: str) -> Path | None:
    found = sorted(folder.glob(f"{PACKAGE}_{upstream}*.orig.tar.*"))
    return found[0] if found else None


def _missing_tarball(folder: Path, version: SourceVersion) -> Path:
    raise StackError(f"apt-get source {PACKAGE}={version.debian} left no .orig tarball in {folder}")


def debian_mirror() -> str:
    """The Debian mirror this machine already uses."""
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
