"""The faust adapter: readings and shipments in, ETA updates out.

``create_app(settings)`` builds a fresh ``faust.App`` (no module-level app): one agent
copies the compacted ``coldchain.shipments`` topic into the ``eta-shipments`` table, the
other folds each record of ``coldchain.readings`` (one message's readings) into the shipment's state in the
``eta-state`` table (JSON, changelogged) and publishes the core's updates on
``coldchain.eta``, keyed by shipment id. Both source topics are keyed by shipment id and
have ``PARTITIONS`` partitions, so a shipment's record and its readings meet on the same
partition. Agents run with concurrency 1 (faust-streaming#606).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence

import faust

from schemas.eta import EtaUpdate
from schemas.reading_wire import ReadingLike
from schemas.topics import ETA, PARTITIONS, READINGS, SHIPMENTS
from services.eta.processor import EtaProcessor
from services.eta.settings import EtaSettings
from services.kafka.faust_app import new_faust_app
from services.profiles.catalog import load_profiles
from services.profiles.model import ProductProfile

log = logging.getLogger(__name__)

PENDING_MAX = 100_000
SHIPMENTS_TABLE = "eta-shipments"
STATE_TABLE = "eta-state"


def create_app(
    settings: EtaSettings, profiles: Mapping[str, ProductProfile] | None = None
) -> faust.App:
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
    shipments = app.topic(SHIPMENTS.name, partitions=PARTITIONS)
    eta_topic = app.topic(ETA.name, partitions=PARTITIONS)
    shipment_table = app.Table(SHIPMENTS_TABLE, partitions=PARTITIONS)
    state_table = app.Table(STATE_TABLE, partitions=PARTITIONS)

    async def publish(updates: list[EtaUpdate]) -> None:
        for update in updates:
            await eta_topic.send(
                key=update.shipment_id.encode(), value=update.model_dump_json().encode()
            )

    # Readings bound to a shipment this worker has not read yet (ingest binds from the registry,
    # which can be ahead of the shipments topic): held until its record arrives, at most
    # PENDING_MAX readings in all (the oldest shipment's go first, with a warning). A landed
    # message is one record, so a record skipped here was all of that message's readings.
    pending: OrderedDict[str, list[ReadingLike]] = OrderedDict()

    def hold(key: str, readings: Sequence[ReadingLike]) -> None:
        pending.setdefault(key, []).extend(readings)
        while sum(len(held) for held in pending.values()) > PENDING_MAX:
            dropped, held = pending.popitem(last=False)
            log.warning("no shipment %s yet: %d readings dropped from the ETA", dropped, len(held))

    @app.agent(shipments, name="eta-shipments", concurrency=1, sink=[publish])
    async def register_shipments(stream: faust.StreamT[bytes]) -> AsyncIterator[list[EtaUpdate]]:
        async for event in stream.events():
            key = _text(event.key)
            if key is None:
                continue
            shipment = processor.decode_shipment(event.value)
            if shipment is None:
                shipment_table.pop(key, None)
                pending.pop(key, None)
                yield []
                continue
            shipment_table[key] = shipment
            held = pending.pop(key, None)
            step = processor.on_readings(held, shipment, state_table.get(key)) if held else None
            if step is None:
                yield []
                continue
            state_table[key] = step.state  # the shipments topic is co-partitioned with the readings
            yield step.updates

    @app.agent(readings, name="eta-forecast", concurrency=1, sink=[publish])
    async def forecast(stream: faust.StreamT[bytes]) -> AsyncIterator[list[EtaUpdate]]:
        async for raw in stream:
            # One record is one message's readings of one shipment: one state write for all.
            readings = processor.decode_readings(raw)
            if not readings or readings[0].shipment_id is None:
                yield []
                continue
            key = readings[0].shipment_id
            shipment = shipment_table.get(key)
            if shipment is None:
                hold(key, readings)
                yield []
                continue
            step = processor.on_readings(readings, shipment, state_table.get(key))
            if step is None:
                yield []
                continue
            state_table[key] = step.state
            yield step.updates

    return app


def _text(key: bytes | str | None) -> str | None:
    if key is None:
        return None
    return key.decode() if isinstance(key, bytes) else key


def main() -> int:
    from services.cpu_priority import yield_cpu
    from services.kafka.topics import ensure_topics

    logging.basicConfig(level=logging.INFO)
    settings = EtaSettings()
    yield_cpu(settings.eta_nice)
    ensure_topics(settings.kafka_client_config(), replication=settings.eta_replication)
    app = create_app(settings)
    worker = faust.Worker(app, loglevel="INFO")
    worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
