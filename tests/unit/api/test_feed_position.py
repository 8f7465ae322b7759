from __future__ import annotations

import pytest

from services.api.feed_position import FEED_TOPICS, BadPosition, FeedPosition, parse_position, sse_frame


def _position(base: int) -> FeedPosition:
    return FeedPosition({(topic, p): base + 10 * i + p for i, topic in enumerate(FEED_TOPICS) for p in range(4)})


def test_an_event_id_reads_back_as_the_same_position():
    position = _position(7)
    text = position.encode()
    assert text.startswith("f1.") and " " not in text and "\n" not in text
    assert parse_position(text) == position


def test_missed_ranges_are_the_partitions_that_moved_on():
    earlier = _position(0)
    later = earlier.advanced("coldchain.alerts", 2, 99).advanced("coldchain.readings", 0, 5)
    assert later.missed_since(earlier) == {("coldchain.alerts", 2): (32, 100), ("coldchain.readings", 0): (0, 6)}
    assert earlier.missed_since(earlier) == {}


def test_a_position_of_another_partition_layout_is_refused():
    three = FeedPosition({(t, p): 0 for t in FEED_TOPICS for p in range(3)})
    with pytest.raises(BadPosition):
        _position(0).missed_since(three)


@pytest.mark.parametrize("text", ["", "12", "f1.", "f1.1-2_3_4", "f1.a-1_1_1_1", "f1.1_1_1_-1",
                                  "f1." + "_".join(["9" * 25] * 4)])
def test_ids_the_feed_did_not_write_are_refused(text):
    with pytest.raises(BadPosition):
        parse_position(text)


def test_sse_frames_carry_id_type_and_one_data_line_per_line():
    assert sse_frame("alert", '{"a": 1}', "f1.0_0_0_0") == 'id: f1.0_0_0_0\nevent: alert\ndata: {"a": 1}\n\n'
    assert sse_frame("ready", "x\ny") == "event: ready\ndata: x\ndata: y\n\n"
