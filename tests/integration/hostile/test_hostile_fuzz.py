"""The long part of the hostile-input suite (issue 18): generated payloads at length, only in
`make chaos` (``COLDCHAIN_CHAOS=all``; ``COLDCHAIN_FUZZ_BATCHES`` batches of up to
``COLDCHAIN_FUZZ_BATCH`` payloads or requests per test, 200 and 20 by default).

- Over MQTT: hypothesis-made JSON telemetry and SenML packs (samples with hostile values,
  batches, arbitrary and deeply nested documents) and a byte fuzzer (random bytes, and valid
  payloads with bytes flipped, cut, inserted and spliced), all published by one device.
- Over HTTP: generated bodies, byte-fuzzed bodies, headers and query strings on the API's
  routes, with and without a token.

After each batch, a canary reading from another device must be stored within a few seconds
(``COLDCHAIN_FUZZ_WITHIN_S``, 10),
no service may have died, every payload that ingest's own decoder refuses must be listed by
``GET /api/v1/deadletters`` with a reason (found by its SHA-256), and every reading it keeps
must be stored (or be a dead letter of the sink). No request may get a 5xx.
"""

from __future__ import annotations

import hashlib
import json
import os
import string
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from services.ingest.decoding import decode_message
from tests.harness.processes import wait_for
from tests.integration.conftest import DevicePublisher, Pipeline, shipment_body
from tests.integration.hostile.checks import NOW, Canary, assert_all_alive, listed

pytestmark = pytest.mark.chaos_long

BATCHES = int(os.environ.get("COLDCHAIN_FUZZ_BATCHES", "200"))
BATCH = int(os.environ.get("COLDCHAIN_FUZZ_BATCH", "20"))
# "a few seconds" for the canary, the dead letters and the kept readings (longer on a busy machine)
WITHIN_S = float(os.environ.get("COLDCHAIN_FUZZ_WITHIN_S", "10"))
DEVICE = "@DEVICE@"  # stands for the batch's device in generated payloads
# No shrinking: each try of a smaller batch is another round on the live pipeline; a failing
# batch is reported as it was generated (and its seed, to run it again).
FUZZ = settings(max_examples=BATCHES, deadline=None, database=None, derandomize=False,
                phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
LONG = pytest.mark.timeout(120 + BATCHES * (60 + 3 * WITHIN_S))  # pytest-timeout's 300 s is for one case

# -- values -----------------------------------------------------------------------------------
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-100, max_value=150),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -0.0, 2**63 - 1, 2**63, -(2**63) - 1, 1e308, -1e308, 5e-324, 80, 80.0001, -90, 180.5]),
)
texts = st.one_of(st.text(max_size=40), st.text(alphabet=st.characters(codec="utf-8"), max_size=400),
                  st.sampled_from(["", "\x00", "\ud7ff", "x" * 300, "TRK-" + "9" * 70, "../../etc", "%s%n"]))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(texts, inner, max_size=6)), max_leaves=30)


def iso(minutes: float) -> str:
    return (NOW + timedelta(minutes=minutes)).isoformat()


# A sample's time: plausible ones (some hours back, a backlog of days), then the edges and junk.
timestamps = st.one_of(
    st.integers(min_value=-60 * 24 * 5, max_value=-1).map(iso),
    st.integers(min_value=20, max_value=10**6).map(iso),  # the future, beyond the clock's 10 minutes
    st.sampled_from(["1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0000-00-00",
                     "2026-02-30T00:00:00Z", "yesterday", "", "2026-11-09T18:00:00+25:00"]),
    st.integers(min_value=-(2**64), max_value=2**64), st.floats(allow_nan=True), st.none(),
)
FIELDS = ("temp_c", "humidity_pct", "lat", "lon", "speed_kmh", "battery_pct", "seq")
samples = st.fixed_dictionaries(
    {"device_id": st.one_of(st.just(DEVICE), st.just(DEVICE), texts), "ts": timestamps},
    optional={**{name: st.one_of(numbers, numbers, scalars) for name in FIELDS}, "extra": json_values},
)
# Good samples too, so that batches mix kept and refused ones (a batch keeps its good samples).
good_samples = st.fixed_dictionaries(
    {"device_id": st.just(DEVICE), "ts": st.integers(min_value=-60 * 24 * 3, max_value=-1).map(iso),
     "temp_c": st.floats(min_value=-30, max_value=60)},
    optional={"humidity_pct": st.floats(min_value=0, max_value=100), "lat": st.floats(min_value=-90, max_value=90),
              "lon": st.floats(min_value=-180, max_value=180), "seq": st.integers(min_value=0, max_value=2**63 - 1),
              "battery_pct": st.floats(min_value=0, max_value=100)},
)
any_samples = st.one_of(good_samples, good_samples, samples)
senml_records = st.fixed_dictionaries({}, optional={
    "bn": st.one_of(st.just(f"urn:dev:{DEVICE}:"), texts), "bt": st.one_of(st.just(NOW.timestamp()), numbers),
    "n": st.one_of(st.sampled_from(["temp", "humidity", "lat", "lon", "speed", "battery"]), texts),
    "u": st.one_of(st.sampled_from(["Cel", "%RH", "lat", "lon", "km/h", "%EL"]), texts),
    "v": numbers, "t": st.one_of(st.integers(min_value=-10**6, max_value=600), numbers), "vs": texts,
})


@st.composite
def nested(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(min_value=1, max_value=5_000))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    return opener * depth + draw(st.sampled_from([b"1", b"", b"null"])) + closer * depth


def dumps(document: Any) -> bytes:
    return json.dumps(document, allow_nan=True).encode()


VALID = dumps({"device_id": DEVICE, "ts": iso(-30), "temp_c": 2.5, "humidity_pct": 90, "seq": 7})


@st.composite
def mutated(draw: st.DrawFn, base: bytes = VALID) -> bytes:
    """The byte fuzzer: a valid payload with bytes flipped, cut, inserted, spliced."""
    data = bytearray(base)
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        at = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        operation = draw(st.sampled_from(["flip", "cut", "insert", "splice", "truncate"]))
        if operation == "flip" and data:
            data[at] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif operation == "cut":
            del data[at:at + draw(st.integers(min_value=1, max_value=16))]
        elif operation == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif operation == "splice":
            data[at:at] = draw(st.sampled_from([b"NaN", b"1e999", b"-", b"\\u0000", b'"', b"{", b"]", b"\xff"]))
        else:
            del data[at:]
    return bytes(data)


telemetry = st.one_of(
    any_samples.map(dumps), st.lists(any_samples, min_size=0, max_size=60).map(dumps), json_values.map(dumps),
    nested(), mutated(), st.binary(max_size=2048),
)
senml = st.one_of(st.lists(senml_records, max_size=40).map(dumps), json_values.map(dumps), nested(),
                  mutated(dumps([{"bn": f"urn:dev:{DEVICE}:", "bt": NOW.timestamp() - 600, "n": "temp",
                                  "u": "Cel", "v": 2.0}])))
mqtt_payloads = st.one_of(st.tuples(st.just("telemetry"), telemetry), st.tuples(st.just("senml"), senml))


# -- the MQTT batches -------------------------------------------------------------------------
class Hostile:
    """One device publishing generated batches, and what each batch should leave behind."""

    def __init__(self, pipeline: Pipeline, publisher: DevicePublisher, device: str, database_url: str) -> None:
        self.pipeline, self.publisher, self.device, self.database_url = pipeline, publisher, device, database_url

    def publish(self, batch: list[tuple[str, bytes]]) -> tuple[dict[str, str], set[datetime]]:
        """Returns what ingest's decoder refuses (SHA-256 → topic) and the times it keeps."""
        refused: dict[str, str] = {}
        kept: set[datetime] = set()
        for kind, template in batch:
            payload = template.replace(DEVICE.encode(), self.device.encode())
            topic = f"coldchain/v1/devices/{self.device}/{kind}"
            decoded = decode_message(topic, payload, datetime.now(UTC))
            self.publisher.publish(topic, payload)
            if decoded.refused:
                refused[hashlib.sha256(payload).hexdigest()] = topic
            kept |= {reading.time for reading in decoded.readings}
        return refused, kept

    def unlisted(self, refused: dict[str, str]) -> dict[str, str]:
        letters = listed(self.pipeline, self.device, limit=1000)
        assert all(letter["reason"] for letter in letters), [ltr for ltr in letters if not ltr["reason"]]
        shown = {letter["payload_sha256"] for letter in letters}
        return {sha: topic for sha, topic in refused.items() if sha not in shown}

    def unstored(self, kept: set[datetime]) -> set[datetime]:
        with psycopg.connect(self.database_url) as conn:
            stored = {row[0] for row in conn.execute(
                "SELECT time FROM readings WHERE device_id = %s AND time = ANY(%s)", (self.device, list(kept)))}
            sink_refused = conn.execute("SELECT count(*) FROM dead_letters WHERE device_id = %s AND stage = 'sink'",
                                        (self.device,)).fetchone()
        return set() if sink_refused and sink_refused[0] else kept - stored


@pytest.fixture
def hostile(pipeline: Pipeline, device_publisher: Callable[[str], DevicePublisher], unique: Callable[[str], str],
            database_url: str) -> Hostile:
    device = unique("FUZZ")
    return Hostile(pipeline, device_publisher(device), device, database_url)


@LONG
@FUZZ
@given(batch=st.lists(mqtt_payloads, min_size=1, max_size=BATCH))
def test_generated_mqtt_payloads_are_stored_or_listed_and_stop_nobody(
    batch: list[tuple[str, bytes]], hostile: Hostile, canary: Canary, pipeline: Pipeline,
) -> None:
    refused, kept = hostile.publish(batch)
    canary(within_s=WITHIN_S)
    wait_for(lambda: not hostile.unlisted(refused), WITHIN_S, "every refused payload listed", interval_s=0.3)
    wait_for(lambda: not hostile.unstored(kept), WITHIN_S, "every kept reading stored", interval_s=0.3)
    assert_all_alive(pipeline)


# -- HTTP -------------------------------------------------------------------------------------
safe_text = st.text(alphabet=string.ascii_letters + string.digits + string.punctuation + " ", max_size=200)
token_text = st.text(alphabet=string.ascii_letters + string.digits + string.punctuation, min_size=1, max_size=200)


@st.composite
def shipment_bodies(draw: st.DrawFn) -> bytes:
    """A valid registration with fields replaced, removed or added; or junk of any kind."""
    body: dict[str, Any] = shipment_body(f"FUZZ-{uuid.uuid4().hex[:12]}", [f"FUZZ-TRK-{uuid.uuid4().hex[:8]}"])
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        key = draw(st.sampled_from([*body, "extra"]))
        if draw(st.booleans()):
            body[key] = draw(json_values)
        else:
            body.pop(key, None)
    shape = draw(st.sampled_from(["mutated", "json", "bytes", "fuzzed"]))
    if shape == "json":
        return dumps(draw(json_values))
    if shape == "bytes":
        return draw(st.binary(max_size=4096))
    return draw(mutated(dumps(body))) if shape == "fuzzed" else dumps(body)


ROUTES_GET = ["/api/v1/shipments", "/api/v1/deadletters", "/api/v1/fleet", "/api/v1/audit", "/api/v1/feed/ticket",
              "/api/v1/shipments/{x}", "/api/v1/shipments/{x}/readings", "/api/v1/shipments/{x}/excursions",
              "/api/v1/shipments/{x}/alerts", "/s/{x}", "/s/{x}/ack"]
QUERY_KEYS = ["party", "product", "device", "limit", "cursor", "q", "active", "viability", "from", "to", "format",
              "table", "key", "lang", "types", "shipment"]


@st.composite
def http_requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes, dict[str, str]]:
    auth = draw(st.sampled_from(["ops", "ops", "none", "junk"]))
    headers = {} if auth == "none" else {
        "Authorization": "Bearer {ops}" if auth == "ops" else "Bearer " + draw(token_text)}
    kind = draw(st.sampled_from(["register", "patch", "sms", "get", "ack"]))
    # path segments: none that names a real shipment, any text percent-encoded
    x = draw(st.one_of(st.just("FUZZ-NONE"), st.text(min_size=1, max_size=80).map(lambda t: quote(t, safe=""))))
    params = draw(st.dictionaries(st.sampled_from(QUERY_KEYS), safe_text, max_size=4))
    json_type = {"Content-Type": "application/json"}
    if kind == "register":
        return "POST", "/api/v1/shipments", {**headers, **json_type}, draw(shipment_bodies()), {}
    if kind == "patch":
        return "PATCH", f"/api/v1/shipments/{x}", {**headers, **json_type}, draw(shipment_bodies()), {}
    if kind == "sms":
        signed = {"X-Coldchain-Timestamp": draw(token_text), "X-Coldchain-Signature": "sha256=" + draw(token_text),
                  "X-Twilio-Signature": draw(token_text)}
        content_type = draw(st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"]))
        body = draw(st.one_of(st.binary(max_size=2048), json_values.map(dumps),
                              st.dictionaries(safe_text, safe_text, max_size=5).map(
                                  lambda form: str(httpx.QueryParams(form)).encode())))
        return "POST", "/api/v1/sms/inbound", {**headers, **signed, "Content-Type": content_type}, body, {}
    if kind == "ack":
        return "POST", f"/api/v1/alerts/{x}/ack", headers, draw(st.binary(max_size=256)), {}
    return "GET", draw(st.sampled_from(ROUTES_GET)).replace("{x}", x), headers, b"", params


@LONG
@FUZZ
@given(requests=st.lists(http_requests(), min_size=1, max_size=BATCH))
def test_generated_http_requests_get_no_server_error_and_stop_nobody(
    requests: list[tuple[str, str, dict[str, str], bytes, dict[str, str]]], pipeline: Pipeline, canary: Canary,
) -> None:
    with httpx.Client(base_url=pipeline.api_url, timeout=10) as http:
        for method, path, headers, body, params in requests:
            headers = {k: v.replace("{ops}", pipeline.ops_token) for k, v in headers.items()}
            response = http.request(method, path, headers=headers, content=body or None, params=params)
            assert response.status_code < 500, (method, path, params, body[:200], response.text[:500])
    canary(within_s=WITHIN_S)
    assert_all_alive(pipeline)
