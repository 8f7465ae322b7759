"""The message catalogs, read from their ``.po`` files when first needed and kept.

No compiled ``.mo`` is committed or built: ``read_po`` parses the catalog and ``write_mo``
turns it into the bytes ``babel.support.Translations`` reads, in memory, once per locale.
A fuzzy or empty entry is not a translation: gettext then falls back to the English msgid.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from schemas.shipment import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES

DOMAIN = "coldchain"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
TEMPLATE = Path(__file__).resolve().parent / f"{DOMAIN}.pot"


def locale_id(language: str) -> str:
    """The gettext/Babel name of a BCP 47 tag ("fr-CA" -> "fr_CA"); English for a tag
    that is not supported (registration refuses those, so only old data gets here)."""
    by_lower = {tag.lower(): tag for tag in SUPPORTED_LANGUAGES}
    tag = by_lower.get(language.strip().lower(), DEFAULT_LANGUAGE)
    return tag.replace("-", "_")


def catalog_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=locale, domain=DOMAIN)


@cache
def translations(locale: str) -> Translations:
    """The locale's catalog as gettext translations, read once (``locale`` as ``locale_id``)."""
    catalog = read_catalog(catalog_path(locale), locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries stay out, as with msgfmt
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)
