"""The limits of a shipment are worked out once: the excursion processor that judges, the
dashboard's fleet route (and the share page, which takes it) and the report loader all
give the same limits, also for a custom profile, an unknown product and a broken override."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from psycopg import AsyncConnection

from schemas.excursion import ExcursionLimits, ProfileOverride
from schemas.shipment import Shipment
from services.api.fleet_routes import shipment_limits
from services.api.settings import ApiSettings
from services.excursions.processor import ExcursionProcessor
from services.excursions.settings import ExcursionSettings
from services.profiles.catalog import load_profiles
from services.profiles.settings import ProfileSettings
from services.registry.limits import ProfileCatalog, limits_of
from services.reports.loading import load_report
from tests.unit.registry.shipments import custom_profile_file, shipment

NOW = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)


class _NoRows:
    """An ``AsyncConnection`` and its cursors over an empty database: the report loader's
    queries all find nothing, so what it reports as limits comes from the shipment alone."""

    itersize = 0

    async def execute(self, *_: Any) -> _NoRows:
        return self

    async def fetchall(self) -> list[Any]:
        return []

    async def fetchone(self) -> None:
        return None

    def cursor(self, *_: Any, **__: Any) -> _NoRows:
        return self

    async def __aenter__(self) -> _NoRows:
        return self

    async def __aexit__(self, *_: Any) -> None:
        return None

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        raise StopAsyncIteration


def _report_limits(shipment: Shipment, catalog: ProfileCatalog) -> ExcursionLimits:
    conn = cast(AsyncConnection[Any], _NoRows())
    return asyncio.run(load_report(conn, shipment, catalog, NOW)).limits


def _everywhere(shipment: Shipment, catalog: ProfileCatalog) -> list[dict[str, Any]]:
    """The shipment's limits as the processor, the fleet route and the report loader give them."""
    processor = ExcursionProcessor(catalog.profiles, catalog.default_product)
    return [
        processor.limits(shipment).model_dump(mode="json"),
        shipment_limits(shipment, catalog),
        _report_limits(shipment, catalog).model_dump(mode="json"),
    ]


@pytest.fixture
def catalog(tmp_path: Path) -> ProfileCatalog:
    return ProfileSettings(excursions_profile_files=[custom_profile_file(tmp_path)]).catalog()


def test_a_custom_profile_gives_the_same_limits_to_the_processor_the_fleet_route_and_the_report(
    catalog: ProfileCatalog,
) -> None:
    judged, shown, reported = _everywhere(shipment("live-crab"), catalog)
    assert judged["profile"] == "live-crab" and (judged["nominal_low_c"], judged["nominal_high_c"]) == (1, 7)
    assert shown == judged and reported == judged


def test_a_custom_profile_with_an_override_is_the_same_everywhere(catalog: ProfileCatalog) -> None:
    crab = shipment("live-crab", ProfileOverride(nominal_high_c=9.0))
    judged, shown, reported = _everywhere(crab, catalog)
    assert judged["nominal_high_c"] == 9 and judged["overridden"] == ["nominal_high_c"]
    assert shown == judged and reported == judged


def test_an_unknown_product_is_judged_and_shown_by_the_default_product_everywhere(catalog: ProfileCatalog) -> None:
    judged, shown, reported = _everywhere(shipment("live-urchin"), catalog)
    assert judged["profile"] == "live-lobster"
    assert shown == judged and reported == judged


def test_the_default_product_is_the_configured_one_everywhere(tmp_path: Path) -> None:
    crab_default = ProfileSettings(excursions_profile_files=[custom_profile_file(tmp_path)],
                                   excursions_default_product="live-crab").catalog()
    assert {limits["profile"] for limits in _everywhere(shipment("live-urchin"), crab_default)} == {"live-crab"}


def test_an_override_that_breaks_the_profile_is_ignored_everywhere(catalog: ProfileCatalog) -> None:
    broken = shipment("live-lobster", ProfileOverride(nominal_high_c=11.0))  # above critical_high_c 10
    judged, shown, reported = _everywhere(broken, catalog)
    assert judged["nominal_high_c"] == 5 and judged["overridden"] == []
    assert shown == judged and reported == judged


def test_a_shipment_not_known_yet_is_judged_by_the_default_product() -> None:
    catalog = ProfileCatalog(load_profiles())
    assert limits_of(None, catalog).profile == "live-lobster"


def test_a_default_product_without_a_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="live-urchin"):
        ProfileCatalog(load_profiles(), "live-urchin")


def test_the_processor_and_the_api_read_the_same_profile_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLDCHAIN_EXCURSIONS_PROFILE_FILES", f'["{custom_profile_file(tmp_path)}"]')
    monkeypatch.setenv("COLDCHAIN_EXCURSIONS_DEFAULT_PRODUCT", "live-crab")
    processor, api = ExcursionSettings().catalog(), ApiSettings().catalog()
    assert processor == api and api.default_product == "live-crab" and "live-crab" in api.profiles
