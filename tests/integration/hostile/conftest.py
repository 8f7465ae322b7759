"""Fixtures of the hostile-input suites (the quick one in `make test`, the fuzzer in `make chaos`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.conftest import DevicePublisher
from tests.integration.hostile.checks import Canary, make_canary


@pytest.fixture
def canary(pipeline: object, device_publisher: Callable[[str], DevicePublisher], unique: Callable[[str], str],
           database_url: str) -> Canary:
    """A good reading from a healthy device, stored in time, on each call (after the pipeline is up)."""
    return make_canary(device_publisher, unique, database_url)
