from __future__ import annotations

import pytest

from services.alerts.sms_encoding import GSM7_BASIC, GSM7_EXTENDED, is_gsm7, sms_size, sms_text


def test_the_gsm7_tables_have_the_standard_sizes() -> None:
    # 128 basic characters less the escape code itself; 10 in the extension table.
    assert len(set(GSM7_BASIC)) == len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENDED) == 10


def test_plain_text_is_gsm7_with_one_septet_a_character() -> None:
    size = sms_size("CRITICAL SHP-1: Temperature low")
    assert (size.encoding, size.units, size.segments) == ("GSM-7", 31, 1)


def test_extension_characters_count_two_septets() -> None:
    assert sms_size("a€[").units == 5
    assert sms_size("a€[").encoding == "GSM-7"


@pytest.mark.parametrize(
    ("septets", "segments"),
    [(0, 1), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_segments_are_160_single_and_153_a_part(septets: int, segments: int) -> None:
    assert sms_size("a" * septets).segments == segments


def test_an_escape_pair_is_not_split_between_parts() -> None:
    # 152 septets then "€" (2): it does not fit the first part's last septet, so the
    # second part starts with it; 153 + 153 + 1 septets would otherwise be 2 parts.
    text = "a" * 152 + "€" + "a" * 152
    assert sms_size(text).units == 306
    assert sms_size(text).segments == 3


@pytest.mark.parametrize("text", ["Entrepôt Côte-Nord", "Hangzhou 杭州", "ça va", "naïve"])
def test_anything_outside_gsm7_makes_ucs2_and_survives(text: str) -> None:
    assert not is_gsm7(text)
    assert sms_text(text) == text
    assert sms_size(text).encoding == "UCS-2"


def test_french_accents_that_gsm7_has_stay_gsm7() -> None:
    assert sms_size("Québec, Montréal, là, où, É").encoding == "GSM-7"


@pytest.mark.parametrize(
    ("units", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_ucs2_segments_are_70_single_and_67_a_part(units: int, segments: int) -> None:
    assert sms_size("杭" * units).segments == segments


def test_a_surrogate_pair_counts_two_and_is_not_split() -> None:
    assert sms_size("🦞").units == 2 and sms_size("🦞" * 35).segments == 1
    assert sms_size("🦞" * 36).segments == 2
    # 66 units then a pair: it goes whole to the second part.
    assert sms_size("杭" * 66 + "🦞" + "杭" * 66).segments == 3


def test_decomposed_accents_are_composed_into_gsm7() -> None:
    assert sms_text("Que\u0301bec") == "Québec"
    assert is_gsm7(sms_text("Que\u0301bec"))


def test_typographic_punctuation_is_made_plain_only_when_that_makes_gsm7() -> None:
    assert sms_text("4.2°C “ok” – …") == '4.2C "ok" - ...'
    assert sms_text("4.2°C 杭州") == "4.2°C 杭州"  # UCS-2 anyway: nothing replaced
