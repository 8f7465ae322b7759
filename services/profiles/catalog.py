"""Loads the built-in profiles and any extra TOML files named by configuration."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from services.profiles.model import ProductProfile


def _parse(text: str, origin: str) -> ProductProfile:
    try:
        return ProductProfile.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ValueError(f"bad product profile {origin}: {exc}") from exc


def builtin_profiles() -> dict[str, ProductProfile]:
    folder = resources.files("services.profiles") / "builtin"
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".toml"):
            profile = _parse(entry.read_text(encoding="utf-8"), entry.name)
            found[profile.name] = profile
    return found


def load_profiles(extra_files: Iterable[Path] = ()) -> Mapping[str, ProductProfile]:
    """Built-in profiles, then each extra file (a later one replaces a same-named one)."""
    profiles = builtin_profiles()
    for path in extra_files:
        profile = _parse(path.read_text(encoding="utf-8"), str(path))
        profiles[profile.name] = profile
    return profiles
