"""The MQTT -> Kafka bridge. At-least-once: an MQTT message is acknowledged only after
Kafka confirmed every record made from it (idempotent producer, acks=all).

The MQTT session (services/ingest/mqtt_session.py) calls ``_on_message`` on its loop, in the
thread "mqtt"; Kafka delivery reports arrive on the producer's poll thread, and the last
report of a message hands its PUBACK to the session.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from schemas.deadletter import DeadLetter, FieldError
from schemas.reading import Reading
from schemas.reading_wire import WireReading, batch_json
from schemas.topics import DEADLETTER, MQTT_SUBSCRIPTION, READINGS
from services.ingest.decoding import decode_message, refusal, refusals
from services.ingest.metrics import IngestMetrics
from services.ingest.mqtt_session import MqttSubscriber, SessionOptions
from services.ingest.mqtt_wire import Publish
from services.ingest.settings import IngestSettings
from services.kafka.clients import new_producer
from services.logs import ids_of
from services.registry.bindings import Binding

log = logging.getLogger(__name__)

ShipmentLookup = Callable[[str, datetime], Binding]


@dataclass
class _Pending:
    mid: int
    qos: int
    outstanding: int
    connection: int  # which MQTT connection delivered the message (mqtt_session)
    topic: str
    payload: bytes
    received_at: datetime
    failed: bool = False


@dataclass(frozen=True)
class _Record:
    topic: str
    key: str
    value: bytes
    replacement: bool = False  # a dead letter standing in for a record Kafka refused


def _dead_letter_record(letter: DeadLetter, replacement: bool = False) -> _Record:
    return _Record(DEADLETTER.name, letter.mqtt_topic, letter.model_dump_json().encode(), replacement)


# A reading is at most ~450 bytes of JSON (64-character ids): 1,000 of them stay well below
# the producer's 1 MB message limit, whatever a message held (up to 5,000 samples).
RECORD_READINGS = 1000


def _readings_records(readings: list[Reading | WireReading], shipment_id: str | None) -> list[_Record]:
    """The ``coldchain.readings`` records of one message's readings of one shipment (``None``:
    bound to none), at most ``RECORD_READINGS`` each, keyed by the shipment."""
    key = shipment_id or f"device:{readings[0].device_id}"
    return [_Record(READINGS.name, key, bound_json(readings[start:start + RECORD_READINGS], shipment_id))
            for start in range(0, len(readings), RECORD_READINGS)]


_UNBOUND = b'"shipment_id":null'


def bound_json(readings: list[Reading | WireReading], shipment_id: str | None) -> bytes:
    """The ``ReadingBatch`` JSON of decoded (unbound) readings, bound to ``shipment_id``.

    Ingest binds after decoding, and copying every reading's model to set its shipment cost
    more than a fifth of ingest's CPU per reading. So the batch is written once and each
    reading's ``"shipment_id":null`` is replaced: only that field can hold those bytes, since a
    string value's own quotes are escaped (``\"``) and a shipment id is a plain token
    (``ShipmentId``), so its JSON is just the quoted id. pydantic and msgspec both write a
    compact ``"shipment_id":null``.
    """
    raw = batch_json(readings)
    if shipment_id is None:
        return raw
    return raw.replace(_UNBOUND, b'"shipment_id":"' + shipment_id.encode() + b'"')


# Delivery errors that are about the record itself, not the broker: retrying cannot help.
RECORD_REFUSALS = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_MSG_SIZE, KafkaError.INVALID_MSG,
                             KafkaError.INVALID_RECORD, KafkaError.RECORD_LIST_TOO_LARGE})


class IngestBridge:
    def __init__(self, settings: IngestSettings, bindings: ShipmentLookup, metrics: IngestMetrics) -> None:
        self.settings = settings
        self.bindings = bindings
        self.metrics = metrics
        self._producer: Producer | None = None
        self._subscriber: MqttSubscriber | None = None
        self._mqtt_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.fatal: str | None = None
        # A labelled counter's child per topic, looked up once: a lookup per delivery cost
        # ~2 µs of a single-sample message's ~80.
        self._produced = functools.cache(metrics.produced.labels)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._producer = new_producer(self.settings, **{
            "linger.ms": self.settings.ingest_kafka_linger_ms,
            "batch.num.messages": 10000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 500000,
        })
        threading.Thread(target=self._poll_producer, name="kafka-delivery", daemon=True).start()
        group = self.settings.ingest_share_group
        self._subscriber = MqttSubscriber(self.settings.mqtt, SessionOptions(
            client_id=self.settings.ingest_client_id,
            topic_filter=f"$share/{group}/{MQTT_SUBSCRIPTION}" if group else MQTT_SUBSCRIPTION,
            session_expiry_s=self.settings.ingest_session_expiry_s,
            receive_maximum=self.settings.ingest_max_inflight,
        ), self._on_message)
        self._mqtt_thread = threading.Thread(target=self._run_mqtt, name="mqtt", daemon=True)
        self._mqtt_thread.start()

    def _run_mqtt(self) -> None:
        """The MQTT session's loop in a thread of our own: if it ever dies, ingest stops (and
        its supervisor restarts it) instead of idling with no subscription."""
        assert self._subscriber is not None
        try:
            asyncio.run(self._subscriber.run())
        except BaseException as exc:
            self.fatal = f"MQTT loop died: {type(exc).__name__}: {exc}"
            log.exception("%s", self.fatal)
        finally:
            self._stop.set()

    def stop(self) -> None:
        """Lets Kafka confirm what it holds (so those messages are acknowledged, not sent
        again), then ends the MQTT connection; may be called more than once."""
        if self._producer is not None:
            self._producer.flush(5)
        if self._subscriber is not None:
            self._subscriber.stop()
        if self._mqtt_thread is not None and self._mqtt_thread is not threading.current_thread():
            self._mqtt_thread.join(5)
        self._stop.set()
        if self._producer is not None:
            self._producer.flush(5)

    def wait(self) -> None:
        self._stop.wait()

    def connected(self) -> bool:
        """Connected to the broker and subscribed (for /readyz; the session reconnects by itself)."""
        return self._subscriber is not None and self._subscriber.subscribed()

    # -- MQTT ------------------------------------------------------------------------------
    def _on_message(self, message: Publish, connection: int) -> None:
        self.metrics.received.inc()
        payload = message.payload
        received_at = datetime.now(UTC)
        try:
            records = self._records(message.topic, payload, received_at)
        except Exception as exc:
            # No payload may stop ingest: whatever went wrong with this one, it is refused
            # with the reason, acknowledged, and the next message is read.
            letter = refusal(message.topic, payload, received_at, "internal_error",
                             f"ingest could not handle this payload ({type(exc).__name__})")
            log.exception("message on %s could not be handled", message.topic, extra=ids_of(letter))
            self.metrics.refused.labels("internal_error").inc()
            records = [_dead_letter_record(letter)]
        if not records:
            self._ack(connection, message.qos, message.packet_id)
            return
        pending = _Pending(message.packet_id, message.qos, len(records), connection,
                           message.topic, payload, received_at)
        for record in records:
            self._produce(record, pending)

    def _ack(self, connection: int, qos: int, packet_id: int) -> None:
        if qos and self._subscriber is not None:
            self._subscriber.ack(connection, packet_id)

    def _records(self, topic: str, payload: bytes, received_at: datetime) -> list[_Record]:
        decoded = decode_message(topic, payload, received_at)
        readings: Sequence[Reading | WireReading] = decoded.readings
        by_shipment: dict[str | None, list[Reading | WireReading]] = {}
        unbindable: list[FieldError] = []
        for index, reading in enumerate(readings):
            binding = self.bindings(reading.device_id, reading.time)
            if binding.refusal is not None:
                unbindable.append(FieldError(index=index, field="ts", rule=binding.rule or "unbindable",
                                             message=binding.refusal))
            else:
                by_shipment.setdefault(binding.shipment_id or None, []).append(reading)
        # One record per shipment the message's readings bind to (almost always one), keyed by
        # it: a shipment's readings, from all its trackers, share a partition.
        records = [record for shipment_id, bound in by_shipment.items()
                   for record in _readings_records(bound, shipment_id)]
        bound_count = sum(len(bound) for bound in by_shipment.values())
        letters = list(decoded.refused)
        if unbindable:
            for error in unbindable:
                self.metrics.refused.labels(error.rule).inc()
            letters.append(refusals(topic, payload, received_at, unbindable))
        for letter in decoded.refused:
            for error in letter.errors:
                self.metrics.refused.labels(error.rule).inc()
        for letter in letters:
            log.info("refused on %s: %s", letter.mqtt_topic, letter.reason, extra=ids_of(letter))
        records += [_dead_letter_record(d) for d in letters]
        self.metrics.accepted.inc(bound_count)
        return records

    # -- Kafka -----------------------------------------------------------------------------
    def _produce(self, record: _Record, pending: _Pending) -> None:
        assert self._producer is not None
        while True:
            try:
                self._producer.produce(record.topic, value=record.value, key=record.key.encode(),
                                       on_delivery=lambda err, msg: self._delivered(err, msg, pending))
                return
            except BufferError:
                self._producer.poll(0.05)  # local queue full: let deliveries drain
            except KafkaException as exc:
                # Kafka refuses this record itself (too large, say): it is replaced by a small
                # dead letter that names why, so the message is still acknowledged once.
                if record.topic == DEADLETTER.name and record.replacement:
                    raise
                record = self._replacement(pending, exc.args[0] if exc.args else exc)

    def _replacement(self, pending: _Pending, error: object) -> _Record:
        self.metrics.refused.labels("kafka_refused").inc()
        letter = refusal(pending.topic, pending.payload, pending.received_at, "kafka_refused",
                         f"Kafka refused the record made from this payload: {error}")
        log.warning("Kafka refused a record made from a message on %s (%s); kept as a dead letter",
                    pending.topic, error, extra=ids_of(letter))
        return _dead_letter_record(letter, replacement=True)

    def _delivered(self, error: KafkaError | None, message: Message, pending: _Pending) -> None:
        if error is not None and error.code() in RECORD_REFUSALS and message.topic() != DEADLETTER.name:
            self._produce(self._replacement(pending, error), pending)
            return
        if error is not None:
            self.metrics.produce_errors.inc()
            pending.failed = True
            self.fatal = f"Kafka delivery failed: {error}"
            log.error("%s; stopping without acknowledging, MQTT will redeliver", self.fatal)
            self._stop.set()
            return
        self._produced(str(message.topic())).inc()
        with self._lock:  # the MQTT thread's produce() may poll, and so report, too
            pending.outstanding -= 1
            done = pending.outstanding == 0 and not pending.failed
        if done:
            self._ack(pending.connection, pending.qos, pending.mid)

    def _poll_producer(self) -> None:
        assert self._producer is not None
        while not self._stop.is_set():
            self._producer.poll(0.1)

