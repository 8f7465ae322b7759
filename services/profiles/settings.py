"""Which product profiles a process knows: the one setting every service reads, so the
processor that judges and the pages and reports that show limits agree."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic_settings import BaseSettings

from services.connections import settings_config
from services.profiles.catalog import load_profiles
from services.registry.limits import DEFAULT_PRODUCT, ProfileCatalog


class ProfileSettings(BaseSettings):
    model_config = settings_config()

    excursions_profile_files: list[Path] = []  # extra product profiles (TOML)
    excursions_default_product: str = DEFAULT_PRODUCT  # for an unknown product, or a shipment not yet known

    def catalog(self, extra_files: Iterable[Path] = ()) -> ProfileCatalog:
        """The configured profiles, then ``extra_files`` (a later one replaces a same-named one)."""
        profiles = load_profiles([*self.excursions_profile_files, *extra_files])
        return ProfileCatalog(profiles, self.excursions_default_product)
