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


READINGS = KafkaTopic(
    "coldchain.readings",
    "schemas.reading:ReadingBatch",
    "shipment id, or 'device:{device_id}' for an unbound device",
    "Accepted, normalised readings from ingest: one record per MQTT message and shipment.",
)
DEADLETTER = KafkaTopic(
    "coldchain.deadletter",
    "schemas.deadletter:DeadLetter",
    "MQTT topic",
    "Refused payloads with the original bytes and the reason.",
)
EXCURSIONS = KafkaTopic(
    "coldchain.excursions",
    "schemas.excursion:ExcursionEvent",
    "shipment id",
    "Excursion lifecycle steps (opened, escalated, closed) and sensor silence.",
)
ETA = KafkaTopic(
    "coldchain.eta",
    "schemas.eta:EtaUpdate",
    "shipment id",
    "ETA and viability forecasts when they move, and at-risk / recovered events.",
)
SHIPMENTS = KafkaTopic(
    "coldchain.shipments",
    "schemas.shipment:Shipment",
    "shipment id",
    "Compacted registry of shipments, for the stream processors and ingest's binding cache.",
)
ALERTS = KafkaTopic(
    "coldchain.alerts",
    "schemas.alert:AlertEvent",
    "shipment id",
    "Alerts raised and their delivery states, for the live feed.",
)

ALL_KAFKA_TOPICS = (READINGS, DEADLETTER, EXCURSIONS, ETA, SHIPMENTS, ALERTS)
PARTITIONS = 4
