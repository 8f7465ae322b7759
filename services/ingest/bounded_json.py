"""A device payload read as JSON within bounds: size and nesting are checked before parsing,
numbers while parsing. Pure: no I/O. Every refusal is a FieldError for the whole payload.
"""

from __future__ import annotations

import json
import re
from array import array
from itertools import accumulate
from typing import Any

from schemas.deadletter import FieldError

# The broker's max_packet_size (deploy/mosquitto/mosquitto.conf): a broker configured without
# one (Mosquitto allows 256 MB by default) still cannot make ingest read more. A 3-day backlog
# logged once a minute, 4,320 full samples, is ~720 KB of compact JSON: it fits in one message.
MAX_PAYLOAD_BYTES = 1024 * 1024
MAX_DEPTH = 32  # a sample needs 2 (a batch of objects); the rest is room for unknown fields
MAX_INT_DIGITS = 4300  # CPython refuses to convert longer ones (int_max_str_digits) and none fits a field

# A JSON string, or an unterminated one running to the end: matching the unterminated kind too
# keeps the scan linear, since a failed match would be retried from every later quote.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_SIGNED = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # as signed bytes: +1 opens, -1 closes


class _Refused(ValueError):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def nesting_depth(payload: bytes) -> int:
    """Deepest bracket nesting outside strings; exact for valid JSON, linear in any case.

    Python's json parser recurses once per level: this finds a deep payload without parsing it.
    """
    brackets = _STRING.sub(b"", payload).translate(None, _NOT_BRACKET).translate(_SIGNED)
    return max(accumulate(array("b", brackets)), default=0)


def load_json(payload: bytes) -> tuple[Any, FieldError | None]:
    """The parsed document, or why the payload is refused whole (too big, too deep, not JSON)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None, _whole("too_large", f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")
    if not payload.strip():
        return None, _whole("empty", "empty payload: expected a JSON sample, batch or SenML pack")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, _whole("invalid_utf8", f"not UTF-8: {exc.reason} at byte {exc.start}")
    if nesting_depth(payload) > MAX_DEPTH:
        return None, _whole("too_deep", f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int), None
    except _Refused as exc:
        return None, _whole(exc.rule, str(exc))
    except RecursionError:  # not reached after the depth check; kept so no input can raise
        return None, _whole("too_deep", "JSON nested too deeply to parse")
    except ValueError as exc:
        return None, _whole("invalid_json", f"not JSON: {exc}")


def _refuse_constant(name: str) -> Any:
    # Python's json reads NaN, Infinity and -Infinity, which JSON (RFC 8259) does not have.
    raise _Refused("non_finite", f"not JSON: {name} is not a JSON number")


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused("number_too_long", f"a JSON integer of {len(digits)} characters (over {MAX_INT_DIGITS} digits)")
    return int(digits)


def _whole(rule: str, message: str) -> FieldError:
    return FieldError(field="", rule=rule, message=message)
