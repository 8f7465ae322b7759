"""Debian packages the native stack needs, installed once with apt-get."""

from __future__ import annotations

import os
import subprocess

from devtools.stack.process import StackError, run, step

RUNTIME_PACKAGES = ("mosquitto", "mosquitto-clients", "postgresql-15", "acl")
BUILD_PACKAGES = ("postgresql-server-dev-15", "cmake", "gcc", "make", "libssl-dev")
# The dashboard's browser tests drive Debian's Chromium (`make chromium`).
BROWSER_PACKAGES = ("chromium",)


def missing(packages: tuple[str, ...]) -> list[str]:
    absent = []
    for name in packages:
        probe = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False
        )
        if "install ok installed" not in probe.stdout:
            absent.append(name)
    return absent


def ensure_installed(packages: tuple[str, ...]) -> list[str]:
    absent = missing(packages)
    if not absent:
        return []
    if os.geteuid() != 0:
        raise StackError(f"missing Debian packages {absent}: run `sudo apt-get install {' '.join(absent)}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    step(f"apt-get install {' '.join(absent)}")
    run(["apt-get", "update", "-q"], "apt-get update", env=env)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *absent], "apt-get install", env=env)
    return absent
