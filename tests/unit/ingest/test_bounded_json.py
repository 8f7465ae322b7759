"""Bounded JSON: nesting measured without parsing, exactly and in linear time; refusals named."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.bounded_json import MAX_DEPTH, MAX_INT_DIGITS, MAX_PAYLOAD_BYTES, load_json, nesting_depth

# Strings full of what could fool a bracket count: brackets, quotes and backslashes.
tricky_text = st.text(alphabet=st.sampled_from(list('[]{}"\\/ax\u00e9\n')), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=40,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_nesting_depth_is_exact_for_json(value, ascii_only):
    assert nesting_depth(json.dumps(value, ensure_ascii=ascii_only).encode()) == depth(value)


@pytest.mark.parametrize("payload", [
    b'"\\"' * 350_000,  # every quote escaped: one unterminated string
    b'"' + b"[" * 1_000_000,  # an unterminated string of brackets
    b'["a\\\\"' * 170_000,  # strings ending in an escaped backslash
    b"[" * 500_000 + b"]" * 500_000,
    b"[{}," * 260_000,
], ids=["escaped-quotes", "unterminated", "escaped-backslashes", "deep", "wide"])
def test_nesting_depth_is_linear_on_a_megabyte(payload):
    # A scan retried from every quote would be quadratic: minutes on these, not milliseconds.
    started = time.perf_counter()
    nesting_depth(payload)
    assert time.perf_counter() - started < 2.0


def test_depth_is_refused_past_the_limit_and_brackets_in_strings_do_not_count():
    at_limit = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert load_json(at_limit)[1] is None
    document, error = load_json(b"[" + at_limit + b"]")
    assert error is not None and error.rule == "too_deep"
    assert load_json(json.dumps({"note": "[" * 100_000}).encode())[1] is None


def test_each_refusal_of_a_whole_payload_has_its_rule():
    cases = {
        b"x" * (MAX_PAYLOAD_BYTES + 1): "too_large",
        b"": "empty",
        b" \n\t": "empty",
        b'{"a": "\xff"}': "invalid_utf8",
        b"[" * 100_000: "too_deep",
        b"NaN": "non_finite",
        b'{"temp_c": -Infinity}': "non_finite",
        b"9" * (MAX_INT_DIGITS + 1): "number_too_long",
        b"-" + b"9" * 100_000: "number_too_long",
        b"{": "invalid_json",
        b"\xef\xbb\xbf{}": "invalid_json",  # a byte-order mark is not JSON (RFC 8259)
    }
    for payload, rule in cases.items():
        document, error = load_json(payload)
        assert error is not None and (error.rule, error.field, document) == (rule, "", None), payload[:20]
        assert len(error.message) < 200


def test_numbers_json_has_are_read_and_overflowing_floats_become_infinity():
    assert load_json(b"9" * MAX_INT_DIGITS)[0] == int("9" * MAX_INT_DIGITS)
    assert load_json(b"[1e999, -1e999, 2.5]")[0] == [float("inf"), float("-inf"), 2.5]
