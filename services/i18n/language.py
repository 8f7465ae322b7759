"""One recipient's language: its translations, and how it writes numbers, days and times. Pure.

Messages are English msgids with ``%(name)s`` placeholders, filled after translation, so
a translation may move them anywhere in its sentence. A translation that does not fit its
values (a broken placeholder) falls back to the English text: a critical alert must go out
in some language rather than not at all (the catalog tests keep that from happening).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_decimal
from babel.support import Translations

from services.i18n.catalogs import locale_id, translations

log = logging.getLogger(__name__)


def N_(message: str) -> str:
    """Marks ``message`` for the catalog where it is defined; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Language:
    tag: str  # the BCP 47 tag messages are written in: "en" for one that is not supported
    locale: Locale
    translations: Translations

    def gettext(self, message: str, **values: object) -> str:
        return _fill(self.translations.gettext(message), message, values)

    def pgettext(self, context: str, message: str, **values: object) -> str:
        """``message`` where its English alone is ambiguous ("min" the unit or the limit)."""
        # Babel's stubs type pgettext loosely; a catalog holds only text.
        return _fill(str(self.translations.pgettext(context, message)), message, values)

    def decimal(self, value: float, digits: int = 1) -> str:
        """``value`` with ``digits`` decimals in the locale's symbols ("-2,5" in French),
        rounded as Python's ``f"{value:.1f}"`` rounds, so English reads as it always has."""
        pattern = "0." + "0" * digits if digits else "0"
        return format_decimal(Decimal(f"{value:.{digits}f}"), pattern, locale=self.locale)

    def day(self, local: datetime) -> str:
        """The day and month of an aware local time: "10 Nov", "10 nov.", "11月10日"."""
        # i18n: a CLDR date pattern (d = day, MMM = month name, M = month number, text in quotes)
        return format_datetime(local, self.pgettext("date pattern", "dd MMM"), tzinfo=local.tzinfo,
                               locale=self.locale)

    def clock(self, local: datetime) -> str:
        """The 24-hour time of day of an aware local time: "09:30", "09 h 30"."""
        # i18n: a CLDR time pattern (HH = hour 00-23, mm = minutes, text in quotes)
        return format_datetime(local, self.pgettext("time pattern", "HH:mm"), tzinfo=local.tzinfo,
                               locale=self.locale)


def _fill(translated: str, source: str, values: dict[str, object]) -> str:
    if not values:
        return translated
    try:
        return translated % values
    except (KeyError, ValueError, TypeError):
        log.warning("translation %r does not fit its values; using the English text", translated)
        return source % values


@cache
def language_for(tag: str) -> Language:
    """The language of a party's BCP 47 tag (as registered); English when it is not supported."""
    locale = locale_id(tag)
    return Language(tag=locale.replace("_", "-"), locale=Locale.parse(locale), translations=translations(locale))
