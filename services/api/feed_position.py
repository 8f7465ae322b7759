"""Where the live feed stands in Kafka, as an SSE event id (pure: no Kafka client here).

A feed position is, for every partition of every feed topic, the offset of the next record
the feed has not yet sent. Every event carries the position *after* it as its ``id``, so a
client that reconnects with ``Last-Event-ID`` is owed exactly the records at or after that
position on each partition, whichever partition its last event came from.

Text form: ``f1.`` then one group per topic, in ``FEED_TOPICS`` order, separated by ``_``;
a group is the partitions' offsets in partition order, separated by ``-``:
``f1.120-98-133-101_7-3-0-12_40-41-38-39_2-0-5-1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from schemas.topics import ALERTS, ETA, EXCURSIONS, READINGS

# Topic -> SSE event type. The order fixes the layout of the id.
FEED_TOPICS: dict[str, str] = {
    READINGS.name: "reading",
    EXCURSIONS.name: "excursion",
    ETA.name: "eta",
    ALERTS.name: "alert",
}
EVENT_TYPES = frozenset(FEED_TOPICS.values())
_PREFIX = "f1."


class BadPosition(ValueError):
    """A ``Last-Event-ID`` this feed did not write, or one from another partition layout."""


@dataclass(frozen=True)
class FeedPosition:
    next_offsets: Mapping[tuple[str, int], int]  # (topic, partition) -> next offset to send

    def encode(self) -> str:
        groups = []
        for topic in FEED_TOPICS:
            partitions = sorted(p for t, p in self.next_offsets if t == topic)
            groups.append("-".join(str(self.next_offsets[(topic, p)]) for p in partitions))
        return _PREFIX + "_".join(groups)

    def missed_since(self, earlier: FeedPosition) -> dict[tuple[str, int], tuple[int, int]]:
        """The offset ranges ``[from, to)`` a client at ``earlier`` has not been sent yet."""
        if set(earlier.next_offsets) != set(self.next_offsets):
            raise BadPosition("the feed's partitions changed since that event")
        return {tp: (earlier.next_offsets[tp], end) for tp, end in self.next_offsets.items()
                if earlier.next_offsets[tp] < end}

    def advanced(self, topic: str, partition: int, offset: int) -> FeedPosition:
        return FeedPosition({**self.next_offsets, (topic, partition): offset + 1})


def parse_position(text: str) -> FeedPosition:
    if not text.startswith(_PREFIX):
        raise BadPosition(f"not a feed event id: {text[:40]!r}")
    groups = text[len(_PREFIX):].split("_")
    if len(groups) != len(FEED_TOPICS):
        raise BadPosition("wrong number of topics in the event id")
    offsets: dict[tuple[str, int], int] = {}
    for topic, group in zip(FEED_TOPICS, groups, strict=True):
        for partition, value in enumerate(group.split("-")):
            if not value.isdigit() or len(value) > 19:
                raise BadPosition(f"bad offset {value[:20]!r} in the event id")
            offsets[(topic, partition)] = int(value)
    return FeedPosition(offsets)


def sse_frame(event: str, data: str, event_id: str | None = None) -> str:
    """One Server-Sent Event (a ``data`` of several lines is sent as several ``data:`` lines)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"{head}event: {event}\n{body}\n"
