"""A new KRaft cluster id: Kafka's own format, and never one a command line reads as an option."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator

import pytest
from devtools.stack import kafka
from devtools.stack.kafka import new_cluster_id

# 0xF8 makes the first base64 character index 62: "-" in the url-safe alphabet.
DASH_FIRST = uuid.UUID(bytes=b"\xf8" + bytes(15))
PLAIN = uuid.UUID(bytes=b"\x10" + bytes(15))


def test_an_id_that_would_begin_with_a_dash_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    draws: Iterator[uuid.UUID] = iter([DASH_FIRST, DASH_FIRST, PLAIN])
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(draws))
    assert base64.urlsafe_b64encode(DASH_FIRST.bytes).decode().startswith("-")
    made = new_cluster_id()
    assert made == base64.urlsafe_b64encode(PLAIN.bytes).decode().rstrip("=")


def test_ids_are_22_url_safe_characters_that_decode_to_16_bytes() -> None:
    for _ in range(2_000):
        made = new_cluster_id()
        assert len(made) == 22 and not made.startswith("-")
        assert len(base64.urlsafe_b64decode(made + "==")) == 16
