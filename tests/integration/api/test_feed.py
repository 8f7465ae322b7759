"""The live feed on the real pipeline: MQTT -> ingest -> Kafka -> the API's feed -> SSE."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.api.tokens import create_token
from tests.harness.processes import ServiceProcess, free_port, wait_for_http
from tests.integration.api.sse import SseClient, SseEvent
from tests.integration.conftest import Pipeline, shipment_body


@pytest.fixture
def open_feeds() -> Iterator[list[SseClient]]:
    made: list[SseClient] = []
    yield made
    for client in made:
        client.close()


@pytest.fixture
def feed(pipeline: Pipeline, open_feeds: list[SseClient]) -> Callable[..., SseClient]:
    def connect(token: str | None = None, last_event_id: str | None = None, **params: str) -> SseClient:
        headers = {"Authorization": f"Bearer {token or pipeline.ops_token}"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        client = SseClient(f"{pipeline.api_url}/api/v1/feed", headers, params)
        open_feeds.append(client)
        return client

    return connect


def _samples(device_id: str, start: datetime, minutes: range, temp_c: float = 3.0) -> list[dict]:
    return [{"device_id": device_id, "ts": (start + timedelta(minutes=m)).isoformat(), "temp_c": temp_c + m / 100}
            for m in minutes]


def _is_reading_at(ts: str) -> Callable[[SseEvent], bool]:
    wanted = datetime.fromisoformat(ts)
    return lambda e: e.type == "reading" and datetime.fromisoformat(e.json()["time"]) == wanted


def _registered(pipeline: Pipeline, shipment_id: str, device_id: str, **overrides) -> None:
    with pipeline.http() as http:
        response = http.post("/api/v1/shipments", json=shipment_body(shipment_id, [device_id], **overrides))
    assert response.status_code == 201, response.text


def _tracked(pipeline: Pipeline, device_publisher, unique, name: str, hours_ago: float):
    """A registered shipment with one tracker: its id, the tracker's id, its publisher, a start
    time ``hours_ago`` back (whole minutes) and its telemetry topic."""
    shipment_id, device_id = unique(f"SHP-{name}"), unique(f"TRK-{name}")
    _registered(pipeline, shipment_id, device_id)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=hours_ago)
    return shipment_id, device_id, device_publisher(device_id), start, f"coldchain/v1/devices/{device_id}/telemetry"


def _bound(pipeline, feed, publisher, shipment_id: str, device_id: str, start: datetime) -> SseClient:
    """A reading feed for the shipment, once ingest binds the device to it (the registration
    reaches ingest through Kafka): one sample is republished until it shows up bound."""
    watcher = feed(shipment=shipment_id, types="reading")
    watcher.until(lambda e: e.type == "ready")
    sample = _samples(device_id, start - timedelta(minutes=1), range(1))[0]
    for _ in range(20):
        publisher.publish(f"coldchain/v1/devices/{device_id}/telemetry", sample)
        try:
            watcher.until(_is_reading_at(sample["ts"]), timeout_s=3)
            return watcher
        except AssertionError:
            continue
    raise AssertionError("the device's readings never reached the feed bound to the shipment")


def test_readings_arrive_and_a_reconnect_gets_exactly_the_missed_events(pipeline, feed, device_publisher, unique):
    shipment_id, device_id, publisher, start, topic = _tracked(pipeline, device_publisher, unique, "FEED", 1)
    # Watches everything, never disconnects: the reference for what the others must get.
    steady = _bound(pipeline, feed, publisher, shipment_id, device_id, start)

    client = feed(shipment=shipment_id, types="reading")
    ready = client.until(lambda e: e.type == "ready")[-1]
    assert ready.json() == {"live": True, "resumed": False} and ready.id

    first = _samples(device_id, start, range(0, 5))
    publisher.publish(topic, first)
    seen = client.until(_is_reading_at(first[-1]["ts"]))
    assert _times(seen) == _times_of(first)
    last_id = seen[-1].id
    client.close()

    missed = _samples(device_id, start, range(5, 12))
    publisher.publish(topic, missed)
    assert _times(steady.until(_is_reading_at(first[-1]["ts"]))) == _times_of(first)
    reference = steady.until(_is_reading_at(missed[-1]["ts"]))
    assert _times(reference) == _times_of(missed)

    resumed = feed(last_event_id=last_id, shipment=shipment_id, types="reading")
    replay = resumed.until(lambda e: e.type == "ready")
    assert replay[-1].json() == {"live": True, "resumed": True}
    assert [(e.type, e.data) for e in replay[:-1]] == [(e.type, e.data) for e in reference]
    assert all(e.id for e in replay)

    # Live again, with nothing repeated.
    after = _samples(device_id, start, range(12, 14))
    publisher.publish(topic, after)
    live = resumed.until(_is_reading_at(after[-1]["ts"]))
    assert _times(live) == _times_of(after)


def _feed_resting(pipeline: Pipeline) -> bool | None:
    metrics = httpx.get(f"{pipeline.api_url}/metrics", timeout=10).text
    found = re.search(r"^coldchain_api_feed_readings_resting (\S+)$", metrics, re.MULTILINE)
    return None if found is None else float(found.group(1)) == 1.0


def test_with_no_reader_of_readings_the_feed_rests_and_a_returning_reader_gets_what_it_missed(
        pipeline, feed, device_publisher, unique):
    # Issue 22: a landed backlog is millions of readings; a feed no client reads readings from
    # does not fetch them, and a reader coming back is replayed what it missed, exactly.
    shipment_id, device_id, publisher, start, topic = _tracked(pipeline, device_publisher, unique, "REST", 2)
    reader = _bound(pipeline, feed, publisher, shipment_id, device_id, start)
    assert _feed_resting(pipeline) is False
    seen = _samples(device_id, start, range(0, 1))
    publisher.publish(topic, seen)
    last_id = reader.until(_is_reading_at(seen[-1]["ts"]))[-1].id
    reader.close()

    # Readings the feed handles with no client taking them: it rests after one of them.
    missed: list[dict] = []
    deadline = time.monotonic() + 30
    while not _feed_resting(pipeline):
        assert time.monotonic() < deadline, "the feed kept fetching readings with no client taking them"
        missed += _samples(device_id, start, range(1 + len(missed), 2 + len(missed)))
        publisher.publish(topic, missed[-1])
        time.sleep(1)
    missed += _samples(device_id, start, range(1 + len(missed), 4 + len(missed)))  # not fetched
    publisher.publish(topic, missed[-3:])

    back = feed(last_event_id=last_id, shipment=shipment_id, types="reading")
    events = back.until(lambda e: e.type == "ready")
    assert events[-1].json() == {"live": True, "resumed": True}
    assert _feed_resting(pipeline) is False
    if _times_of(missed)[-1] not in _times(events[:-1]):  # reached Kafka after the wake: a live event
        events += back.until(_is_reading_at(missed[-1]["ts"]))
    assert _times([e for e in events if e.type == "reading"]) == _times_of(missed)

    after = _samples(device_id, start, range(1 + len(missed), 3 + len(missed)))
    publisher.publish(topic, after)
    assert _times(back.until(_is_reading_at(after[-1]["ts"]))) == _times_of(after)


def test_a_resume_with_a_forged_or_foreign_event_id_is_refused_by_name(pipeline, feed):
    refused = feed(last_event_id="f1.1-2-3")
    assert refused.status == 422 and "Last-Event-ID" in refused.body


def test_exporters_get_only_their_own_shipments(pipeline, feed, device_publisher, unique, stack):
    ours, theirs = unique("SHP-OURS"), unique("SHP-THEIRS")
    our_device, their_device = unique("TRK-OURS"), unique("TRK-THEIRS")
    party = unique("Shediac Lobster Co")
    _registered(pipeline, ours, our_device,
                seller={"name": party, "email": "ops@seller.example", "phone": "+19025550100"})
    _registered(pipeline, theirs, their_device)
    exporter = create_token(stack.database_url, "exporter", party)

    refused = feed(token=exporter, shipment=theirs)
    assert refused.status == 404
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    our_pub, their_pub = device_publisher(our_device), device_publisher(their_device)
    _bound(pipeline, feed, their_pub, theirs, their_device, start)
    _bound(pipeline, feed, our_pub, ours, our_device, start)

    mine = feed(token=exporter, types="reading")
    mine.until(lambda e: e.type == "ready")
    everyone = feed(types="reading")
    everyone.until(lambda e: e.type == "ready")
    their_sample, our_sample = _samples(their_device, start, range(1))[0], _samples(our_device, start, range(1))[0]
    their_pub.publish(f"coldchain/v1/devices/{their_device}/telemetry", their_sample)
    everyone.until(_is_reading_at(their_sample["ts"]))  # it is on the feed...
    our_pub.publish(f"coldchain/v1/devices/{our_device}/telemetry", our_sample)
    got = mine.until(lambda e: e.type == "reading" and e.json()["shipment_id"] == ours)
    assert {e.json()["shipment_id"] for e in got if e.type == "reading"} == {ours}  # ...but not on theirs


def test_a_feed_ticket_stands_in_for_the_header_and_nothing_else_does(pipeline, feed):
    with pipeline.http() as http:
        issued = http.post("/api/v1/feed/ticket").json()
    assert issued["role"] == "ops"
    url = f"{pipeline.api_url}/api/v1/feed"
    by_ticket = SseClient(url, params={"ticket": issued["ticket"], "types": "alert"})
    try:
        assert by_ticket.status == 200
        assert by_ticket.until(lambda e: e.type == "ready")[-1].json()["live"] is True
    finally:
        by_ticket.close()
    token_id, expires, signature = issued["ticket"].split(".")
    for params in ({}, {"ticket": f"{token_id}.{int(expires) + 60}.{signature}"}, {"access_token": pipeline.ops_token}):
        refused = SseClient(url, params=params)
        assert refused.status == 401, params


def _times(events: list[SseEvent]) -> list[datetime]:
    return [datetime.fromisoformat(e.json()["time"]) for e in events]


def _times_of(samples: list[dict]) -> list[datetime]:
    return [datetime.fromisoformat(s["ts"]) for s in samples]


def test_a_dead_kafka_leaves_the_api_and_its_feed_up(stack, tmp_path):
    """Nothing listens on the Kafka port: the API still serves, and the feed still answers."""
    port = free_port()
    api = ServiceProcess("services.api.main", {
        **stack.env, "COLDCHAIN_HTTP_PORT": str(port), "COLDCHAIN_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "COLDCHAIN_KAFKA_CONFIG": '{"message.timeout.ms": 2000}'}, tmp_path, name="api-without-kafka")
    api.start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/openapi.json", 60, api)
        token = create_token(stack.database_url, "auditor", None)
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{url}/api/v1/fleet", headers=headers, timeout=10).status_code == 200
        client = SseClient(f"{url}/api/v1/feed", headers)
        try:
            ready = client.until(lambda e: e.type == "ready")[-1]
            assert ready.json() == {"live": False, "resumed": False} and ready.id is None
        finally:
            client.close()
        assert api.alive()
    finally:
        api.stop()
