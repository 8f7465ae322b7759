"""How an SMS text travels: GSM-7 when it can, else UCS-2, and how many segments. Pure.

GSM-7 (3GPP TS 23.038) carries the basic table in one septet a character and its
extension table in two (escape + character); a single message holds 160 septets, a
concatenated one 153 a part (the rest is the part header), and an escape pair is never
split between parts. Anything outside both tables needs UCS-2: UTF-16 code units, 70 in
a single message, 67 a part, a surrogate pair (e.g. an emoji) counting two and never
split. French accents outside GSM-7 (ç, ê, ô...) and Chinese survive as UCS-2.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from schemas.alert import SmsEncoding

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = "^{}\\[~]|€\f"
_BASIC = frozenset(GSM7_BASIC)
_EXTENDED = frozenset(GSM7_EXTENDED)

# (single message, part of a concatenated one), in the encoding's units
_CAPACITY: dict[SmsEncoding, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}

# Typographic punctuation with a plain GSM-7 equivalent. Used only when it makes the whole
# text GSM-7 (a third of the cost); a text that needs UCS-2 anyway keeps every character.
_PLAIN = {
    "°": "",  # "4.2°C" reads fine as "4.2C"
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2026": "...",
    "\u00a0": " ",
    "\t": " ",
    "\u2022": "-",
    "\u00d7": "x",
    "\u2265": ">=",
    "\u2264": "<=",
    "\u00b1": "+/-",
    "\u2192": "->",
}


@dataclass(frozen=True)
class SmsSize:
    encoding: SmsEncoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def is_gsm7(text: str) -> bool:
    return all(ch in _BASIC or ch in _EXTENDED for ch in text)


def sms_text(text: str) -> str:
    """``text`` as it is sent: composed (NFC, so "e" + accent is the GSM-7 "é"), and with
    typographic punctuation made plain when that is all that keeps it from GSM-7."""
    composed = unicodedata.normalize("NFC", text)
    if is_gsm7(composed):
        return composed
    plain = "".join(_PLAIN.get(ch, ch) for ch in composed)
    return plain if is_gsm7(plain) else composed


def sms_size(text: str) -> SmsSize:
    """The encoding ``text`` needs as it stands (see ``sms_text``) and its segments."""
    if is_gsm7(text):
        weights = [2 if ch in _EXTENDED else 1 for ch in text]
        encoding: SmsEncoding = "GSM-7"
    else:
        weights = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        encoding = "UCS-2"
    single, part = _CAPACITY[encoding]
    return SmsSize(encoding, sum(weights), _segments(weights, single, part))


def _segments(weights: list[int], single: int, part: int) -> int:
    if sum(weights) <= single:
        return 1
    count, used = 1, 0
    for weight in weights:  # an escape pair or a surrogate pair stays in one part
        if used + weight > part:
            count, used = count + 1, 0
        used += weight
    return count
