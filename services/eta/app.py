"""The faust adapter: readings and shipments in, ETA updates out.

``create_app(settings)`` builds a fresh ``faust.App`` (no module-level app): one agent
copies the compacted ``coldchain.shipments`` topic into the ``eta-shipments`` table, the
other folds each record of ``coldchain.readings`` (one message's readings) into the shipment's state in the
``eta-state`` table (JSON, changelogged; readings that come before their shipment's record
wait in ``eta-pending``) and publishes the core's updates on
``coldchain.eta``, keyed by shipment id. Both source topics are keyed by shipment id and
have ``PARTITIONS`` partitions, so a shipment's record and its readings meet on the same
partition. Agents run with concurrency 1 (faust-streaming#606).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence

import faust

from schemas.eta import EtaUpdate
from schemas.reading_wire import ReadingLike, decode_readings, encode_readings
from schemas.shipment import Shipment
from schemas.topics import ETA, PARTITIONS, READINGS, SHIPMENTS
from services.eta.processor import EtaProcessor
from services.eta.settings import EtaSettings
from services.kafka.faust_app import (
    internal_topics,
    new_faust_app,
    publisher,
    run_worker,
    shipment_batches,
    shipments_agent,
    write_as,
)
from services.kafka.stream_metrics import HoldingStreamMetrics
from services.logs import configure_logging
from services.profiles.catalog import load_profiles
from services.profiles.model import ProductProfile

log = logging.getLogger(__name__)

PENDING_BYTES = 512 * 1024  # of record JSON a shipment: one table value, one changelog message under 1 MB
PENDING_SHIPMENTS = 200
PENDING_CHUNK = 1_000  # readings to a held record (~250 KB of JSON at most)
FORECAST_BATCH_MAX = 2_000  # records taken at once (or fewer, after eta_batch_s)
SHIPMENTS_TABLE = "eta-shipments"
STATE_TABLE = "eta-state"
PENDING_TABLE = "eta-pending"


def create_app(
    settings: EtaSettings, profiles: Mapping[str, ProductProfile] | None = None,
    metrics: HoldingStreamMetrics | None = None,
) -> faust.App:
    counts = metrics if metrics is not None else HoldingStreamMetrics("eta")
    app = new_faust_app(
        settings.eta_app_id, settings, settings.eta_store, settings.eta_data_dir, settings.eta_replication,
        fetch_wait_s=settings.eta_fetch_wait_s,
        table_value_serializer="json",  # the state is a JSON object (EtaState.model_dump)
    )
    processor = EtaProcessor(
        settings.parameters,
        profiles if profiles is not None else load_profiles(settings.eta_profile_files),
    )
    readings = app.topic(READINGS.name, partitions=PARTITIONS)
    eta_topic = app.topic(ETA.name, partitions=PARTITIONS)
    shipment_table = app.Table(SHIPMENTS_TABLE, partitions=PARTITIONS)
    state_table = app.Table(STATE_TABLE, partitions=PARTITIONS)

    send = publisher(eta_topic)

    async def publish(updates: list[EtaUpdate]) -> None:
        counts.emitted.labels(ETA.name).inc(len(updates))
        await send(updates)

    # Readings bound to a shipment this worker has not read yet (ingest binds from the registry,
    # which can be ahead of the shipments topic) wait in a table of their own until its record
    # arrives: changelogged beside the shipment's other state, so a rebalance or a restart in
    # between hands them to the next owner (their offsets are committed; kept only in this
    # process, they were lost). Bounded: PENDING_BYTES a shipment (its oldest records go
    # first) and PENDING_SHIPMENTS shipments (then a new shipment's readings are dropped), each
    # drop counted and logged.
    pending_table = app.Table(PENDING_TABLE, partitions=PARTITIONS)
    held_here: dict[str, int] = {}  # readings this worker held, per shipment (the gauge)

    def count_held(key: str, change: int | None) -> None:
        if change is None:
            held_here.pop(key, None)
        else:
            held_here[key] = held_here.get(key, 0) + change
        for gone in [k for k in held_here if k not in pending_table]:  # released by another worker
            del held_here[gone]
        counts.held.set(sum(held_here.values()))

    def hold(key: str, readings: Sequence[ReadingLike]) -> None:
        held: list[str] = pending_table.get(key) or []
        if not held and len(pending_table) >= PENDING_SHIPMENTS:
            counts.dropped.inc(len(readings))
            log.warning("no shipment %s yet, and %d others wait: %d readings dropped from the ETA", key,
                        len(pending_table), len(readings), extra={"shipment_id": key})
            return
        held = [*held, *(record.decode() for record in encode_readings(readings, PENDING_CHUNK))]
        change = len(readings)
        while len(held) > 1 and sum(map(len, held)) > PENDING_BYTES:
            dropped = len(decode_readings(held.pop(0).encode()))
            change -= dropped
            counts.dropped.inc(dropped)
            log.warning("no shipment %s yet: its %d oldest held readings dropped from the ETA", key, dropped,
                        extra={"shipment_id": key})
        pending_table[key] = held
        count_held(key, change)

    def release(key: str) -> list[ReadingLike]:
        held: list[str] = pending_table.pop(key, None) or []
        count_held(key, None)
        return [reading for record in held for reading in decode_readings(record.encode())]

    def on_shipment(key: str, shipment: Shipment | None) -> list[EtaUpdate]:
        counts.records.labels(SHIPMENTS.name).inc()
        if shipment is None:  # deleted (tombstone)
            shipment_table.pop(key, None)
            release(key)
            return []
        stored = shipment.model_dump(mode="json")
        shipment_table[key] = stored
        held = release(key)
        step = processor.on_readings(held, stored, state_table.get(key)) if held else None
        if step is None:
            return []
        state_table[key] = step.state  # the shipments topic is co-partitioned with the readings
        return step.updates

    shipments_agent(app, "eta-shipments", on_shipment, sink=[publish])

    @app.agent(readings, name="eta-forecast", concurrency=1, sink=[publish])
    async def forecast(stream: faust.StreamT[bytes]) -> AsyncIterator[list[EtaUpdate]]:
        # A shipment's readings of the batch folded at once: one state write for all of them.
        async for batch in shipment_batches(stream, FORECAST_BATCH_MAX, settings.eta_batch_s, counts):
            updates: list[EtaUpdate] = []
            for key, event, readings in batch:
                shipment = shipment_table.get(key)
                if shipment is None:
                    write_as(stream, event)  # the held readings' changelog partition: their shipment's
                    hold(key, readings)
                    continue
                step = processor.on_readings(readings, shipment, state_table.get(key))
                if step is None:
                    counts.skip("not_processed")
                    continue
                write_as(stream, event)
                state_table[key] = step.state
                updates.extend(step.updates)
            yield updates

    return app


def main() -> int:
    from services.cpu_priority import yield_cpu
    from services.kafka.topics import ensure_topics

    settings = EtaSettings()
    configure_logging(settings.log_format, settings.log_level, "eta")
    yield_cpu(settings.eta_nice)
    metrics = HoldingStreamMetrics("eta")
    app = create_app(settings, metrics=metrics)
    ensure_topics(settings.kafka_client_config(), replication=settings.eta_replication, internal=internal_topics(app))
    return run_worker(app, metrics.registry, settings.metrics_listen, settings.log_level)


if __name__ == "__main__":
    raise SystemExit(main())
