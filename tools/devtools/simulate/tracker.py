"""What a tracker does with the journey: samples, buffers in flight, uploads, misbehaves.

A tracker samples every ``interval`` with sensor noise, GPS noise and its own clock skew
and drift; the sample's ``ts`` is its clock's reading, which is what the pipeline stores.
On the ground it publishes each sample as it is taken; in the air its radio is off, so
it keeps a backlog and uploads it after landing as shuffled batches (JSON arrays or SenML
packs). Now and then it re-sends a message (a duplicate), re-sends the last few live
samples inside a backlog, or sends something broken (a malformed payload).

Everything here is pure and seeded: the same inputs give the same bytes.
"""

from __future__ import annotations

import heapq
import json
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from devtools.simulate.geography import offset_metres
from devtools.simulate.itinerary import Itinerary
from schemas.topics import MQTT_SENML, MQTT_TELEMETRY

PayloadFormat = Literal["json", "senml"]
TimestampStyle = Literal["rfc3339_utc", "rfc3339_local", "epoch"]
ActionKind = Literal["live", "backlog", "duplicate", "malformed"]

JSON_DEFECTS = (
    "invalid_json",
    "temp_out_of_range",
    "missing_ts",
    "device_id_mismatch",
    "lat_without_lon",
    "ts_without_offset",
)
SENML_DEFECTS = ("invalid_json", "senml_text_value")
RADIO_OFF_BEFORE_TAKEOFF = timedelta(minutes=2)


@dataclass(frozen=True)
class Tracker:
    """One device and its quirks."""

    device_id: str
    payload_format: PayloadFormat
    timestamp_style: TimestampStyle
    utc_offset_h: int  # the device's local clock offset, for ``rfc3339_local``
    interval: timedelta
    clock_skew_s: float
    clock_drift_ppm: float
    temp_bias_c: float
    battery_start_pct: float
    reports_radio: bool  # adds fields the contract does not know (rssi, fw): ignored
    outages: tuple[tuple[datetime, datetime], ...] = ()  # no samples at all in these

    @property
    def topic(self) -> str:
        pattern = MQTT_SENML if self.payload_format == "senml" else MQTT_TELEMETRY
        return pattern.format(device_id=self.device_id)


@dataclass(frozen=True)
class Misbehaviour:
    """How often things go wrong, as fractions of live publications."""

    malformed: float = 0.01
    duplicate: float = 0.02
    backlog_resend: float = 0.3  # chance a backlog repeats the last live samples
    batch_size: int = 50
    gps_noise_m: float = 6.0
    gps_jump: float = 0.02  # chance of a multipath jump of a few hundred metres
    temp_noise_c: float = 0.05


@dataclass(frozen=True)
class TrueSample:
    """A sample as taken. ``ts`` is the device clock (whole seconds, UTC); ``taken_at`` is
    the true instant. ``(device_id, ts)`` is the reading the pipeline should store."""

    device_id: str
    taken_at: datetime
    ts: datetime
    seq: int
    temp_c: float
    humidity_pct: float
    lat: float | None
    lon: float | None
    speed_kmh: float | None
    battery_pct: float
    airborne: bool


@dataclass(frozen=True)
class PublishAction:
    """One MQTT publication. ``samples`` counts the valid samples it carries; ``repeats``
    how many of them were already sent before; ``defect`` names what is wrong with a
    malformed payload (which carries no valid sample)."""

    sim_time: datetime
    topic: str
    payload: bytes
    device_id: str
    kind: ActionKind
    samples: int = 0
    repeats: int = 0
    defect: str | None = None


@dataclass(order=True)
class _Queued:
    at: datetime
    order: int
    action: PublishAction = field(compare=False)


def device_time(tracker: Tracker, at: datetime, since: datetime) -> datetime:
    """The device clock's reading at true time ``at``: offset plus drift, whole seconds."""
    drift = (at - since).total_seconds() * tracker.clock_drift_ppm / 1e6
    raw = at + timedelta(seconds=tracker.clock_skew_s + drift)
    return raw.replace(microsecond=0)


def take_samples(
    tracker: Tracker,
    itinerary: Itinerary,
    box_temp_c: Callable[[datetime], float],
    rng: random.Random,
    noise: Misbehaviour,
) -> Iterator[TrueSample]:
    """Every sample the tracker takes, in time order, from packing to switch-off."""
    at = itinerary.start + timedelta(seconds=rng.uniform(0, 30))
    seq = 0
    while at < itinerary.end:
        if not any(start <= at < end for start, end in tracker.outages):
            yield _sample(tracker, itinerary, box_temp_c, rng, noise, at, seq)
            seq += 1
        jitter = timedelta(seconds=rng.uniform(-2, 2))
        at += tracker.interval + jitter


def _sample(
    tracker: Tracker,
    itinerary: Itinerary,
    box_temp_c: Callable[[datetime], float],
    rng: random.Random,
    noise: Misbehaviour,
    at: datetime,
    seq: int,
) -> TrueSample:
    segment = itinerary.segment_at(at)
    hours = (at - itinerary.start).total_seconds() / 3600
    temp = box_temp_c(at) + tracker.temp_bias_c + rng.gauss(0, noise.temp_noise_c)
    humidity = min(100.0, max(0.0, segment.humidity_pct + rng.gauss(0, 1.5)))
    lat: float | None = None
    lon: float | None = None
    speed: float | None = None
    if rng.random() < (0.3 if segment.indoors else 0.97):
        true_lat, true_lon = segment.position(at)
        spread = noise.gps_noise_m
        if rng.random() < noise.gps_jump:
            spread = rng.uniform(150, 400)
        lat, lon = offset_metres(true_lat, true_lon, rng.gauss(0, spread), rng.gauss(0, spread))
        moving = segment.speed_kmh
        speed = max(0.0, moving * rng.uniform(0.85, 1.1)) if moving > 0 else 0.0
    return TrueSample(
        device_id=tracker.device_id,
        taken_at=at,
        ts=device_time(tracker, at, itinerary.start),
        seq=seq,
        temp_c=round(temp, 1),
        humidity_pct=round(humidity, 1),
        lat=None if lat is None else round(lat, 6),
        lon=None if lon is None else round(lon, 6),
        speed_kmh=None if speed is None else round(speed, 1),
        battery_pct=round(max(0.0, tracker.battery_start_pct - 0.6 * hours), 1),
        airborne=segment.kind == "air",
    )


def _timestamp(tracker: Tracker, ts: datetime) -> str | int:
    if tracker.timestamp_style == "epoch":
        return int(ts.timestamp())
    if tracker.timestamp_style == "rfc3339_local":
        local = ts.astimezone(timezone(timedelta(hours=tracker.utc_offset_h)))
        return local.isoformat()
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def sample_object(tracker: Tracker, sample: TrueSample) -> dict[str, Any]:
    """A sample as the JSON object of contract section 1."""
    body: dict[str, Any] = {
        "device_id": tracker.device_id,
        "ts": _timestamp(tracker, sample.ts),
        "seq": sample.seq,
        "temp_c": sample.temp_c,
        "humidity_pct": sample.humidity_pct,
    }
    if sample.lat is not None:
        body.update(lat=sample.lat, lon=sample.lon, speed_kmh=sample.speed_kmh)
    body["battery_pct"] = sample.battery_pct
    if tracker.reports_radio:
        body.update(rssi=-60 - sample.seq % 30, fw="2.4.1")
    return body


def senml_records(samples: list[TrueSample]) -> list[dict[str, Any]]:
    """A SenML pack: a base time on the first record, times relative to it."""
    base = int(samples[0].ts.timestamp())
    records: list[dict[str, Any]] = []
    for sample in samples:
        offset = int(sample.ts.timestamp()) - base
        fields: list[tuple[str, str, float | None]] = [
            ("temp", "Cel", sample.temp_c),
            ("humidity", "%RH", sample.humidity_pct),
            ("lat", "lat", sample.lat),
            ("lon", "lon", sample.lon),
            ("speed", "km/h", sample.speed_kmh),
            ("battery", "%EL", sample.battery_pct),
        ]
        for name, unit, value in fields:
            if value is not None:
                records.append({"n": name, "u": unit, "v": value, "t": offset})
    records[0] = {"bt": base, **records[0]}
    return records


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def encode_samples(tracker: Tracker, samples: list[TrueSample], single: bool) -> bytes:
    """One sample (a JSON object) or a batch (a JSON array), or a SenML pack."""
    if tracker.payload_format == "senml":
        return _encode(senml_records(samples))
    objects = [sample_object(tracker, s) for s in samples]
    return _encode(objects[0] if single else objects)


def malformed_payload(
    tracker: Tracker, sample: TrueSample, rng: random.Random
) -> tuple[str, bytes]:
    """A broken message the pipeline must refuse, and what is wrong with it."""
    if tracker.payload_format == "senml":
        defect = rng.choice(SENML_DEFECTS)
        records = senml_records([sample])
        if defect == "senml_text_value":
            records[0] = {**records[0], "v": "cold"}
            return defect, _encode(records)
        good = _encode(records)
        return defect, good[: len(good) // 2]
    defect = rng.choice(JSON_DEFECTS)
    body = sample_object(tracker, sample)
    if defect == "invalid_json":
        good = _encode(body)
        return defect, good[: len(good) // 2]
    if defect == "temp_out_of_range":
        body["temp_c"] = 127.0  # a shorted probe's reading
    elif defect == "missing_ts":
        del body["ts"]
    elif defect == "device_id_mismatch":
        body["device_id"] = f"{tracker.device_id}-X"
    elif defect == "lat_without_lon":
        body.update(lat=sample.lat or 44.88)
        body.pop("lon", None)
    else:  # ts_without_offset
        body["ts"] = sample.ts.strftime("%Y-%m-%dT%H:%M:%S")
    return defect, _encode(body)


def offline_windows(
    itinerary: Itinerary, rng: random.Random
) -> list[tuple[datetime, datetime]]:
    """Radio off from just before take-off (flight mode is set on the roll) until the
    tracker reconnects a few minutes after landing."""
    return [
        (leg.start - RADIO_OFF_BEFORE_TAKEOFF, leg.end + timedelta(minutes=rng.uniform(3, 10)))
        for leg in itinerary.airborne()
    ]


def publish_actions(
    tracker: Tracker,
    samples: Iterator[TrueSample],
    itinerary: Itinerary,
    rng: random.Random,
    misbehaviour: Misbehaviour,
) -> Iterator[PublishAction]:
    """The tracker's publications in time order, streamed (memory stays small).

    Every publication happens at or after the true time of the sample that causes it, so
    whatever is queued before the current sample's time can be released in order.
    """
    queue: list[_Queued] = []
    counter = 0
    windows = offline_windows(itinerary, rng)
    backlog: list[TrueSample] = []
    backlog_window: tuple[datetime, datetime] | None = None
    recent: deque[TrueSample] = deque(maxlen=3)

    def push(at: datetime, action: PublishAction) -> None:
        nonlocal counter
        heapq.heappush(queue, _Queued(at, counter, action))
        counter += 1

    def drain(until: datetime | None) -> Iterator[PublishAction]:
        while queue and (until is None or queue[0].at <= until):
            yield heapq.heappop(queue).action

    for sample in samples:
        window = next((w for w in windows if w[0] <= sample.taken_at < w[1]), None)
        if backlog and window != backlog_window:
            for at, action in _upload(tracker, backlog, recent, windows, rng, misbehaviour):
                push(at, action)
            backlog = []
        yield from drain(sample.taken_at)
        if window is not None:
            backlog.append(sample)
            backlog_window = window
            continue
        for at, action in _live(tracker, sample, rng, misbehaviour):
            # A re-send that would fall after the radio went off never happens.
            if action.kind == "live" or not any(start <= at < end for start, end in windows):
                push(at, action)
        recent.append(sample)
    if backlog:
        for at, action in _upload(tracker, backlog, recent, windows, rng, misbehaviour):
            push(at, action)
    yield from drain(None)


def _live(
    tracker: Tracker, sample: TrueSample, rng: random.Random, misbehaviour: Misbehaviour
) -> Iterator[tuple[datetime, PublishAction]]:
    sent = sample.taken_at + timedelta(seconds=rng.uniform(1, 4))
    payload = encode_samples(tracker, [sample], single=True)
    yield sent, PublishAction(sent, tracker.topic, payload, tracker.device_id, "live", 1)
    if rng.random() < misbehaviour.duplicate:
        again = sent + timedelta(seconds=rng.uniform(10, 60))
        yield again, PublishAction(
            again, tracker.topic, payload, tracker.device_id, "duplicate", 1, 1
        )
    if rng.random() < misbehaviour.malformed:
        broken_at = sent + timedelta(seconds=rng.uniform(5, 30))
        defect, broken = malformed_payload(tracker, sample, rng)
        yield broken_at, PublishAction(
            broken_at, tracker.topic, broken, tracker.device_id, "malformed", defect=defect
        )


def _upload(
    tracker: Tracker,
    backlog: list[TrueSample],
    recent: deque[TrueSample],
    windows: list[tuple[datetime, datetime]],
    rng: random.Random,
    misbehaviour: Misbehaviour,
) -> Iterator[tuple[datetime, PublishAction]]:
    """The backlog after reconnecting: shuffled, in batches, a couple of seconds apart."""
    reconnected = next(end for start, end in windows if start <= backlog[-1].taken_at < end)
    resent: list[TrueSample] = []
    if recent and rng.random() < misbehaviour.backlog_resend:
        resent = list(recent)[-rng.randint(1, len(recent)):]
    items = [*backlog, *resent]
    rng.shuffle(items)
    repeated = {id(s) for s in resent}
    size = misbehaviour.batch_size
    for index in range(0, len(items), size):
        chunk = items[index:index + size]
        at = reconnected + timedelta(seconds=2 * (index // size) + rng.uniform(0, 1))
        payload = encode_samples(tracker, chunk, single=False)
        repeats = sum(1 for s in chunk if id(s) in repeated)
        yield at, PublishAction(
            at, tracker.topic, payload, tracker.device_id, "backlog", len(chunk), repeats
        )
