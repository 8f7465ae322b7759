"""The message catalogs: they match the code, are complete, and keep every placeholder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir

from services.i18n.catalogs import LOCALES_DIR, TEMPLATE, catalog_path, locale_id, read_catalog, translations

ROOT = Path(__file__).resolve().parents[3]
TRANSLATED = ("fr_CA", "zh_CN")
# Python's %-placeholders ("%(name)s", "%(minutes)02d") and str.format ones ("{name}");
# "%%" is a literal percent sign, not a placeholder.
_PLACEHOLDER = re.compile(r"%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|\{[^{}]*\}")

Key = tuple[str | None, str]


def _key(message: Message) -> Key:
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    return message.context, msgid


def _entries(catalog: Catalog) -> dict[Key, Message]:
    return {_key(m): m for m in catalog if m.id}


def _in_code() -> set[Key]:
    """What ``make i18n-extract`` finds: Babel's default keywords (gettext, pgettext, N_, ...)."""
    found: set[Key] = set()
    for folder in ("services", "schemas"):
        for _file, _line, message, _comments, context in extract_from_dir(ROOT / folder):
            found.add((context, message if isinstance(message, str) else message[0]))
    return found


def _placeholders(text: str) -> list[str]:
    return sorted(_PLACEHOLDER.findall(text.replace("%%", "")))


def _strings(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, (list, tuple)) else [message.string]


def test_the_template_and_every_catalog_hold_exactly_the_msgids_of_the_code() -> None:
    code = _in_code()
    assert code, "no msgid found in the code"
    template = set(_entries(read_catalog(TEMPLATE)))
    assert template == code, f"run `make i18n-extract`: missing {code - template}, stale {template - code}"
    for locale in ("en", *TRANSLATED):
        entries = set(_entries(read_catalog(catalog_path(locale))))
        assert entries == code, f"{locale}: missing {code - entries}, stale {entries - code}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_msgid_has_a_translation(locale: str) -> None:
    untranslated = [key for key, m in _entries(read_catalog(catalog_path(locale))).items()
                    if m.fuzzy or not all(s.strip() for s in _strings(m))]
    assert untranslated == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_a_translation_keeps_the_placeholders_of_its_msgid(locale: str) -> None:
    broken = []
    for (context, msgid), message in _entries(read_catalog(catalog_path(locale))).items():
        for text in _strings(message):
            if _placeholders(text) != _placeholders(msgid):
                broken.append((context, msgid, text))
    assert broken == []


def test_the_placeholder_check_sees_a_renamed_or_lost_placeholder() -> None:
    assert _placeholders("%(hours)d h %(minutes)02d min") == ["%(hours)d", "%(minutes)02d"]
    assert _placeholders("%(value)s%%RH") == ["%(value)s"]
    assert _placeholders("%(heures)d h") != _placeholders("%(hours)d h")
    assert _placeholders("{name}, %(x)s") == ["%(x)s", "{name}"]


@pytest.mark.parametrize("locale", ["en", *TRANSLATED])
def test_the_sms_reply_keyword_is_ack_in_every_language(locale: str) -> None:
    message = _entries(read_catalog(catalog_path(locale)))[("SMS", "Reply ACK %(code)s")]
    assert "ACK %(code)s" in (message.string or message.id)


def test_catalogs_are_po_files_only_read_once_per_locale() -> None:
    assert not list(LOCALES_DIR.rglob("*.mo")), "compiled catalogs are not committed: the .po is read at run time"
    assert translations("fr_CA") is translations("fr_CA")
    assert translations("zh_CN").pgettext("severity, in capitals", "CRITICAL") == "严重"
    # An English catalog translates nothing: its msgids are the text.
    assert translations("en").gettext("Temperature low started") == "Temperature low started"


@pytest.mark.parametrize(("tag", "locale"), [("en", "en"), ("fr-CA", "fr_CA"), ("fr-ca", "fr_CA"),
                                             ("zh-CN", "zh_CN"), ("de", "en"), ("", "en")])
def test_a_bcp47_tag_names_its_catalog_and_an_unsupported_one_english(tag: str, locale: str) -> None:
    assert locale_id(tag) == locale
