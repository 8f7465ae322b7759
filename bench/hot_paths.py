"""`python -m bench.hot_paths`: CPU per reading of the landing burst's in-process hot paths.

No services: each path runs on a landed backlog built here, as ingest would have written it
to ``coldchain.readings`` (8 shipments of 8 trackers, 20 h of one-a-minute readings each, in
messages of 100; some messages arrive after the next one, some readings within a message
out of order, and one tracker per shipment through a freeze). Printed per path: µs of
process CPU per reading, the best of a few rounds (the machine is shared: the best is the
least disturbed). It measures and asserts nothing.

- **sink**: record bytes → the topic's model (as the consumer loop decodes them) → the
  binary COPY rows, deduplicated → the hash-chain links of new devices (stops before the
  database: no COPY, no chain lookup);
- **faust decode**: record bytes → readings, as both stream processors decode a record;
- **excursions**: ``ExcursionProcessor.on_readings`` per record, state table in a dict;
- **eta**: ``EtaProcessor.on_readings`` per record, state table in a dict;
- **ingest**: the same backlog as MQTT messages of 100 samples, as the bench publisher writes
  them (``bench.loadgen.sample_text``, epoch-seconds ``ts``) → the bridge's records of each
  (decode, bind with a constant binding, the record bytes; stops before the producer).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

from bench.loadgen import sample_text
from bench.trips import HALIFAX_PLANT, HANGZHOU, PVG, YHZ, shipment
from schemas.excursion import ExcursionEvent
from schemas.reading import Reading, ReadingBatch
from schemas.reading_wire import ReadingLike, ReadingRows
from schemas.topics import READINGS
from services.eta.parameters import EtaParameters
from services.eta.processor import EtaProcessor, JsonObject
from services.excursions.processor import ExcursionProcessor
from services.ingest.bridge import IngestBridge
from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings
from services.integrity.chain import genesis, links
from services.kafka.faust_app import readings_of
from services.profiles.catalog import load_profiles
from services.registry.bindings import BindingTable
from services.sink.main import tables
from services.sink.writers import reading_rows

SHIPMENTS = 8
TRACKERS = 8  # per shipment
HOURS = 20
PER_MESSAGE = 100
LANDED_AT = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
FROZEN_C = -3.0  # below live lobster's critical low


def _temperature(rng: random.Random, minute: int, frozen: bool) -> float:
    if frozen and 300 <= minute < 360:  # an hour in the freezer: a critical temp_low excursion
        return FROZEN_C
    return round(2.5 + 0.6 * rng.random(), 2)


def _tracker_messages(rng: random.Random, shipment_id: str, device_id: str, frozen: bool) -> list[bytes]:
    start = LANDED_AT - timedelta(hours=HOURS)
    readings = [
        Reading(device_id=device_id, time=start + timedelta(minutes=minute), shipment_id=shipment_id, seq=minute,
                temp_c=_temperature(rng, minute, frozen), humidity_pct=91.5,
                lat=44.8808 if minute % 3 else None, lon=-63.5086 if minute % 3 else None,
                battery_pct=88.0, received_at=LANDED_AT)
        for minute in range(HOURS * 60)
    ]
    messages = [readings[i:i + PER_MESSAGE] for i in range(0, len(readings), PER_MESSAGE)]
    for message in messages:  # a tracker's buffer is not always in order
        i = rng.randrange(len(message) - 1)
        message[i], message[i + 1] = message[i + 1], message[i]
    for i in range(0, len(messages) - 1, 4):  # one message in four overtakes the one before
        messages[i], messages[i + 1] = messages[i + 1], messages[i]
    return [ReadingBatch(readings=m).model_dump_json().encode() for m in messages]


def backlog(seed: int = 22) -> list[bytes]:
    """The landed records, interleaved across trackers as a freighter's uploads arrive."""
    rng = random.Random(seed)
    per_tracker = [
        _tracker_messages(rng, f"SHP-LAND-{s:02d}", f"TRK-{s:02d}-{d:02d}", frozen=d == 0)
        for s in range(SHIPMENTS) for d in range(TRACKERS)
    ]
    return [records[i] for i in range(len(per_tracker[0])) for records in per_tracker]


def _sink(records: list[bytes]) -> None:
    model = tables()[READINGS.name].model
    batches = [cast(ReadingRows, model.model_validate_json(raw)) for raw in records]  # the topic's model: ReadingRecord
    rows = reading_rows(batches)
    # What ChainWriter.link works out for devices with nothing stored after (a landed backlog's).
    links({device_id: genesis(device_id) for device_id in {row[1] for row in rows}}, rows)


def _faust_decode(records: list[bytes]) -> None:
    for raw in records:
        readings_of(raw)


def _decoded(records: list[bytes]) -> list[Sequence[ReadingLike]]:
    return [readings_of(raw) for raw in records]


def score_records(decoded: list[Sequence[ReadingLike]]) -> tuple[list[ExcursionEvent], dict[str, bytes]]:
    """Every record through a fresh excursion processor, its state table in a dict (as the
    worker applies a step): the events published and the table left."""
    processor, table, events = ExcursionProcessor(load_profiles()), dict[str, bytes](), list[ExcursionEvent]()
    for readings in decoded:
        key = readings[0].shipment_id
        assert key is not None
        step = processor.on_readings(readings, None, table.get(key), 0, table.get)
        if step is not None:
            table.update(step.puts)
            for deleted in step.deletes:
                table.pop(deleted, None)
            events += step.events
    return events, table


def _excursions(decoded: list[Sequence[ReadingLike]]) -> Callable[[], None]:
    def run() -> None:
        score_records(decoded)

    return run


def _shipment_json(shipment_id: str) -> JsonObject:
    ship = shipment(shipment_id, HALIFAX_PLANT, [YHZ, PVG, HANGZHOU], LANDED_AT - timedelta(hours=HOURS + 2), 60.0,
                    device_id=f"TRK-{shipment_id[-2:]}-00")
    return {**ship.model_dump(mode="json"), "created_at": ship.packed_at.isoformat()}


def _eta(decoded: list[Sequence[ReadingLike]]) -> Callable[[], None]:
    shipments = {f"SHP-LAND-{s:02d}": _shipment_json(f"SHP-LAND-{s:02d}") for s in range(SHIPMENTS)}

    def run() -> None:
        processor, table = EtaProcessor(EtaParameters(), load_profiles()), dict[str, JsonObject]()
        for readings in decoded:
            key = readings[0].shipment_id
            assert key is not None
            step = processor.on_readings(readings, shipments[key], table.get(key))
            if step is not None:
                table[key] = step.state

    return run


def _telemetry() -> list[tuple[str, bytes]]:
    """The backlog as the trackers publish it: (topic, payload) of each 100-sample message."""
    start = LANDED_AT - timedelta(hours=HOURS)
    messages = []
    for device_id in (f"TRK-{s:02d}-{d:02d}" for s in range(SHIPMENTS) for d in range(TRACKERS)):
        topic = f"coldchain/v1/devices/{device_id}/telemetry"
        for first in range(0, HOURS * 60, PER_MESSAGE):
            texts = [sample_text(device_id, (start + timedelta(minutes=m)).timestamp(), m)
                     for m in range(first, first + PER_MESSAGE)]
            messages.append((topic, f"[{','.join(texts)}]".encode()))
    return messages


def _ingest() -> Callable[[], None]:
    # The constructor does no I/O (start() connects); the binding table the cache would fill.
    bindings = BindingTable()
    bindings.replace([(f"TRK-{s:02d}-{d:02d}", LANDED_AT - timedelta(hours=HOURS + 2), f"SHP-LAND-{s:02d}", None)
                      for s in range(SHIPMENTS) for d in range(TRACKERS)])
    bridge = IngestBridge(IngestSettings(), bindings.bind, IngestMetrics())
    messages = _telemetry()

    def run() -> None:
        for topic, payload in messages:
            bridge._records(topic, payload, LANDED_AT)

    return run


def cpu_us_per_reading(run: Callable[[], None], readings: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best / readings * 1e6


def paths(records: list[bytes]) -> Iterator[tuple[str, Callable[[], None]]]:
    decoded = _decoded(records)
    yield "sink decode+rows+chain", lambda: _sink(records)
    yield "faust readings decode", lambda: _faust_decode(records)
    yield "excursions on_readings", _excursions(decoded)
    yield "eta on_readings", _eta(decoded)
    yield "ingest records", _ingest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="run only the paths whose name contains this")
    args = parser.parse_args()
    records = backlog()
    readings = SHIPMENTS * TRACKERS * HOURS * 60
    print(f"{len(records)} records, {readings} readings")
    for name, run in paths(records):
        if args.only and args.only not in name:
            continue
        print(f"{name:<26} {cpu_us_per_reading(run, readings, args.rounds):8.2f} µs CPU/reading", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
