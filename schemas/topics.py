"""Every Kafka topic and MQTT topic pattern, with the model it carries."""

from __future__ import annotations

from dataclasses import dataclass

MQTT_TELEMETRY = "coldchain/v1/devices/{device_id}/telemetry"
MQTT_SENML = "coldchain/v1/devices/{device_id}/senml"
MQTT_SUBSCRIPTION = "coldchain/v1/devices/+/+"


@dataclass(frozen=True)
class KafkaTopic:
    name: str
    model: str  # "module:Class" under schemas/
    key: str  # what the record key is
    description: str
    producers: tuple[str, ...] = ()  # the services that write it (``coldchain run NAME``)
    consumers: tuple[str, ...] = ()  # and those that read it
    compacted: bool = False  # cleanup.policy=compact: the latest record per key is kept


READINGS = KafkaTopic(
    "coldchain.readings",
    "schemas.reading:ReadingBatch",
    "shipment id, or 'device:{device_id}' for an unbound device",
    "Accepted, normalised readings from ingest: one record per MQTT message and shipment.",
    producers=("ingest",),
    consumers=("sink", "excursions", "eta", "api"),
)
DEADLETTER = KafkaTopic(
    "coldchain.deadletter",
    "schemas.deadletter:DeadLetter",
    "MQTT topic",
    "Refused payloads with the original bytes and the reason.",
    producers=("ingest", "sink"),
    consumers=("sink",),
)
EXCURSIONS = KafkaTopic(
    "coldchain.excursions",
    "schemas.excursion:ExcursionEvent",
    "shipment id",
    "Excursion lifecycle steps (opened, escalated, closed) and sensor silence.",
    producers=("excursions",),
    consumers=("sink", "alerts", "api"),
)
ETA = KafkaTopic(
    "coldchain.eta",
    "schemas.eta:EtaUpdate",
    "shipment id",
    "ETA and viability forecasts when they move, and at-risk / recovered events.",
    producers=("eta",),
    consumers=("sink", "alerts", "api"),
)
SHIPMENTS = KafkaTopic(
    "coldchain.shipments",
    "schemas.shipment:Shipment",
    "shipment id",
    "Compacted registry of shipments, for the stream processors.",
    producers=("api",),
    consumers=("excursions", "eta"),
    compacted=True,
)
ALERTS = KafkaTopic(
    "coldchain.alerts",
    "schemas.alert:AlertEvent",
    "shipment id",
    "Alerts raised and their delivery states, for the live feed.",
    producers=("alerts",),
    consumers=("api",),
)

ALL_KAFKA_TOPICS = (READINGS, DEADLETTER, EXCURSIONS, ETA, SHIPMENTS, ALERTS)
PARTITIONS = 4
