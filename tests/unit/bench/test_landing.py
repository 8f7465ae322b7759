"""The landing bench's pure parts: the plan's arithmetic, who was told when, the report."""

from __future__ import annotations

import json

from bench.landing import LandingPlan, LandingResult, Stopwatch, _first_emails
from bench.loadgen import FROZEN_C, PublishPlan, _messages
from bench.report import _landing_rows


def test_the_issue_plan_is_9_6_million_readings_in_96_000_messages() -> None:
    plan = LandingPlan()
    assert (plan.per_tracker, plan.readings, plan.shipments) == (1200, 9_600_000, 80)


def test_a_frozen_tracker_reads_below_zero_only_in_its_window() -> None:
    plan = PublishPlan("mqtt://x", "L-", devices=2, per_device=6, batch=3, base_ts=1000.0, interval_s=60.0,
                       frozen=frozenset({"L-0000"}), freeze_seqs=(2, 4))
    temps: dict[str, list[float]] = {}
    for payload, topic in _messages(plan):
        for sample in json.loads(payload):
            assert topic.endswith(f"/{sample['device_id']}/telemetry")
            assert sample["ts"] == 1000.0 + 60.0 * sample["seq"]
            temps.setdefault(sample["device_id"], []).append(sample["temp_c"])
    assert [t == FROZEN_C for t in temps["L-0000"]] == [False, False, True, True, False, False]
    assert FROZEN_C not in temps["L-0001"]


def test_the_trackers_registered_are_the_ones_that_publish() -> None:
    # They once differed (5 digits registered, 4 published): no reading bound to a shipment,
    # so nothing was scored and no found-late alert could be sent.
    plan = LandingPlan(trackers=120, hours=1.0)
    published = {json.loads(payload)[0]["device_id"] for payload, _ in _messages(PublishPlan(
        "mqtt://x", "B-L", devices=plan.trackers, per_device=plan.per_tracker, batch=plan.batch))}
    assert published == set(plan.devices("B-L"))


def test_only_the_first_email_to_each_recipient_of_a_watched_shipment_counts() -> None:
    stopwatch = Stopwatch()
    stopwatch.emails += [(10.0, "S1", ("seller@x",)), (12.0, "S1", ("seller@x", "buyer@x")),
                         (11.0, "S2", ("buyer@x",))]
    assert _first_emails(stopwatch, {"S1"}) == {("S1", "seller@x"): 10.0, ("S1", "buyer@x"): 12.0}


def test_the_report_says_what_missed_the_target() -> None:
    result = LandingResult(plan=LandingPlan(trackers=800), published_s=40.0, stored_s=250.0, scored_s=None,
                           alerted_s=320.0, stored=960_000, alerts_expected=8, alerts_received=8, false_alarms=0,
                           cpu_pct={"ingest": 90}, rss_max_mb={"ingest": 120}, machine_busy_pct=190.0)
    text = "\n".join(_landing_rows(result.as_dict()))
    assert "250 s (met)" in text and "not reached" in text and "320 s (NOT met)" in text
    assert "| 960,000 | 3,840 |" in text


def test_a_window_that_ran_out_reports_the_rate_over_it_and_what_was_left() -> None:
    result = LandingResult(plan=LandingPlan(trackers=800), published_s=40.0, stored_s=None, scored_s=None,
                           alerted_s=None, stored=420_000, alerts_expected=8, alerts_received=0, false_alarms=0,
                           cpu_pct={"ingest": 90}, rss_max_mb={"ingest": 120}, machine_busy_pct=190.0,
                           elapsed_s=420.0, sink_behind=3_000, excursions_behind=1_234)
    landing = result.as_dict()
    assert landing["stored_per_s"] == 1_000
    text = "\n".join(_landing_rows(landing))
    assert "sink 3,000, excursion processor 1,234" in text and "420 s after the first upload" in text
