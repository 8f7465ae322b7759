"""The faust adapter: readings and shipments in, excursion events out.

``create_app(settings)`` builds a fresh ``faust.App`` (no module-level app) with three agents,
all with concurrency 1 (faust-streaming#606):

- ``excursions-shipments`` copies the compacted ``coldchain.shipments`` topic into the
  ``excursions-shipments`` table (raw JSON, for the product profile and override);
- ``excursions-score`` loads a shipment's state from the ``excursions-state`` table
  (changelogged; a small header per shipment, one per tracker and its history in segments, see
  ``storage``), scores each reading of ``coldchain.readings`` with the pure core,
  applies the processor's writes and publishes the events on ``coldchain.excursions``
  keyed by shipment id;
- ``excursions-silence`` runs the silence check. A timer on the leader sends a tick to every
  partition of an internal topic co-partitioned with the readings; the tick for partition p
  checks the shipments whose readings come from p, so each table write lands in the
  changelog partition that owns the key (a timer alone cannot write to a table).

Both source topics are keyed by shipment id and have ``PARTITIONS`` partitions, so a
shipment's record and its readings meet on the same partition.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime

import faust

from schemas.excursion import ExcursionEvent
from schemas.shipment import Shipment
from schemas.topics import EXCURSIONS, PARTITIONS, READINGS, SHIPMENTS
from services.excursions.processor import ExcursionProcessor, StateChange
from services.excursions.settings import ExcursionSettings
from services.kafka.faust_app import new_faust_app, publisher, shipment_batches, shipments_agent, write_as
from services.kafka.stream_metrics import StreamMetrics
from services.profiles.catalog import load_profiles
from services.profiles.model import ProductProfile
from services.registry.record import record_value

log = logging.getLogger(__name__)

SHIPMENTS_TABLE = "excursions-shipments"
STATE_TABLE = "excursions-state"
SCORE_AGENT = "excursions-score"
SHIPMENTS_AGENT = "excursions-shipments"
SILENCE_AGENT = "excursions-silence"
SCORE_BATCH_MAX = 2_000  # records taken at once (or fewer, after excursions_batch_s)


def silence_ticks_topic(settings: ExcursionSettings) -> str:
    return f"{settings.excursions_app_id}-silence-ticks"


def create_app(settings: ExcursionSettings, profiles: Mapping[str, ProductProfile] | None = None,
               metrics: StreamMetrics | None = None) -> faust.App:
    counts = metrics if metrics is not None else StreamMetrics("excursions")
    app = new_faust_app(
        settings.excursions_app_id, settings, settings.excursions_store, settings.excursions_data_dir,
        settings.excursions_replication,
        fetch_wait_s=settings.excursions_fetch_wait_s,
        table_value_serializer="raw",  # values are JSON bytes made by pydantic
    )
    processor = ExcursionProcessor(
        profiles if profiles is not None else load_profiles(settings.excursions_profile_files),
        settings.excursions_default_product,
        settings.scoring,
    )
    readings = app.topic(READINGS.name, partitions=PARTITIONS)
    excursions = app.topic(EXCURSIONS.name, partitions=PARTITIONS)
    ticks = app.topic(silence_ticks_topic(settings), partitions=PARTITIONS, internal=True)
    # value_type=bytes: the raw codec, also when a restart recovers the table from its changelog
    shipment_table = app.Table(SHIPMENTS_TABLE, partitions=PARTITIONS, value_type=bytes)
    state_table = app.Table(STATE_TABLE, partitions=PARTITIONS, value_type=bytes)

    def apply(step: StateChange) -> None:
        for key, value in step.puts:
            state_table[key] = value
        for key in step.deletes:
            state_table.pop(key, None)

    send = publisher(excursions)

    async def publish(events: list[ExcursionEvent]) -> None:
        counts.emitted.labels(EXCURSIONS.name).inc(len(events))
        await send(events)

    def on_shipment(key: str, shipment: Shipment | None) -> list[ExcursionEvent]:
        counts.records.labels(SHIPMENTS.name).inc()
        if shipment is None:  # deleted (tombstone): its excursion state goes too
            shipment_table.pop(key, None)
            for state_key in processor.keys_to_delete(key, state_table.get(key), state_table.get):
                state_table.pop(state_key, None)
        else:
            shipment_table[key] = record_value(shipment)
        return []

    shipments_agent(app, SHIPMENTS_AGENT, on_shipment)

    @app.agent(readings, name=SCORE_AGENT, concurrency=1, sink=[publish])
    async def score(stream: faust.StreamT[bytes]) -> AsyncIterator[list[ExcursionEvent]]:
        # Batches, not one event at a time: faust's per-event work (the agent's yield, a
        # changelog record per table write) was most of the worker's CPU under load, and a
        # shipment with several readings in a batch has its state written once.
        async for batch in shipment_batches(stream, SCORE_BATCH_MAX, settings.excursions_batch_s, counts):
            found: list[ExcursionEvent] = []
            for key, event, readings in batch:
                step = processor.on_readings(
                    readings, shipment_table.get(key), state_table.get(key), event.message.partition, state_table.get
                )
                if step is None:
                    counts.skip("not_processed")
                else:
                    # A table write goes to the changelog partition of the current event, which
                    # take_events leaves unset: the shipment's own (its readings share one).
                    write_as(stream, event)
                    apply(step)
                    found.extend(step.events)
            yield found

    @app.agent(ticks, name=SILENCE_AGENT, concurrency=1, sink=[publish])
    async def watch_silence(stream: faust.StreamT[bytes]) -> AsyncIterator[list[ExcursionEvent]]:
        async for event in stream.events():
            now = datetime.fromisoformat(json.loads(event.value)["now"])
            partition = event.message.partition
            found: list[ExcursionEvent] = []
            for key, stored in list(state_table.items()):
                if not processor.is_state_key(key):
                    continue
                step = processor.on_tick(now, partition, key, shipment_table.get(key), stored, state_table.get)
                if step is not None:
                    apply(step)
                    found.extend(step.events)
            yield found

    @app.timer(interval=settings.excursions_silence_check_s, on_leader=True)
    async def send_ticks() -> None:
        tick = json.dumps({"now": datetime.now(UTC).isoformat()}).encode()
        for partition in range(PARTITIONS):
            await ticks.send(value=tick, partition=partition)

    return app

