"""The fan-out's per-client rules (no Kafka involved: these are plain objects)."""

from __future__ import annotations

import asyncio

from services.api.feed import FeedFilter, Subscriber


def test_a_client_that_falls_behind_is_let_go_with_an_end_marker():
    async def scenario() -> tuple[list[bool], list[str | None], bool]:
        subscriber = Subscriber(FeedFilter(frozenset({"reading"})), asyncio.Queue(2))
        offered = [subscriber.offer(f"frame {n}") for n in range(3)]
        left = [subscriber.queue.get_nowait() for _ in range(subscriber.queue.qsize())]
        return offered, left, subscriber.dropped

    offered, left, dropped = asyncio.run(scenario())
    assert offered == [True, True, False]
    assert left == [None] and dropped  # its stream ends; it resumes from the last frame it got


def test_filters_by_type_shipment_and_party():
    ops = FeedFilter(frozenset({"excursion", "alert"}))
    one = FeedFilter(frozenset({"reading"}), shipment="SHP-1")
    exporter = FeedFilter(frozenset({"reading"}), party="Shediac Lobster Co.")
    assert ops.takes("alert", "SHP-9") and not ops.takes("reading", "SHP-9")
    assert one.takes("reading", "SHP-1") and not one.takes("reading", "SHP-2")
    assert ops.visible(None)
    assert exporter.visible(("Shediac Lobster Co.", "Hangzhou Fresh Ltd."))
    assert not exporter.visible(("Other Co.", "Hangzhou Fresh Ltd.")) and not exporter.visible(None)
