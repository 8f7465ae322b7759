"""A recipient's language: numbers, days and times by Babel, and a safe fallback."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from babel.support import NullTranslations

from services.i18n.language import language_for

AT = datetime(2026, 11, 10, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(("tag", "shown"), [("en", "-2.5"), ("fr-CA", "-2,5"), ("zh-CN", "-2.5")])
def test_decimals_use_the_locales_separator(tag: str, shown: str) -> None:
    assert language_for(tag).decimal(-2.5) == shown


def test_decimals_round_as_python_formats_so_english_reads_as_before() -> None:
    english = language_for("en")
    for value in (0.05, 0.15, 2.25, 2.35, 12.549, -0.04, 1234.5):
        assert english.decimal(value) == f"{value:.1f}"
    assert english.decimal(42.4, 0) == "42"


@pytest.mark.parametrize(
    ("tag", "zone", "day", "clock"),
    [
        ("en", "Asia/Shanghai", "10 Nov", "09:30"),
        ("fr-CA", "America/Halifax", "9 nov.", "21 h 30"),
        ("zh-CN", "Asia/Shanghai", "11月10日", "09:30"),
    ],
)
def test_days_and_times_follow_the_locale_in_the_given_zone(tag: str, zone: str, day: str, clock: str) -> None:
    local = AT.astimezone(ZoneInfo(zone))
    lang = language_for(tag)
    assert (lang.day(local), lang.clock(local)) == (day, clock)


def test_an_unsupported_language_is_english() -> None:
    assert language_for("de").tag == "en"
    assert language_for("de").gettext("Temperature low started") == "Temperature low started"


class _Broken(NullTranslations):
    """A catalog whose translation lost its placeholder."""

    def gettext(self, message: str) -> str:
        return "Bonjour %(nom)s,"


def test_a_translation_that_does_not_fit_its_values_falls_back_to_english() -> None:
    lang = replace(language_for("fr-CA"), translations=_Broken())  # type: ignore[arg-type]
    assert lang.gettext("Hello %(name)s,", name="Shediac") == "Hello Shediac,"
