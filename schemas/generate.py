"""Writes the JSON Schema of every message and HTTP response, and an AsyncAPI 3.0 document,
from the models.

``python -m schemas.generate`` rewrites ``schemas/generated/``; ``--check`` exits 1 when the
committed files differ from what the models give (a test runs it).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.topics import ALL_KAFKA_TOPICS, MQTT_SENML, MQTT_TELEMETRY, PARTITIONS, KafkaTopic

OUT = Path(__file__).resolve().parent / "generated"


def _model(path: str) -> type[BaseModel]:
    module, name = path.split(":")
    model = getattr(importlib.import_module(module), name)
    assert issubclass(model, BaseModel)
    return model


def _documents() -> dict[str, str]:
    from schemas.http import HTTP_MODELS
    from schemas.shipment import ShipmentIn

    messages = _messages()
    models: dict[str, type[BaseModel]] = {name: model for name, (model, _) in messages.items()}
    models["ShipmentIn"] = ShipmentIn
    schemas = {name: model.model_json_schema(mode="serialization") for name, model in sorted(models.items())}
    documents = {f"{name}.schema.json": _dump(schema) for name, schema in schemas.items()}
    # The HTTP API's response bodies (schemas/http.py), beside the OpenAPI document it serves.
    for model in HTTP_MODELS:
        documents[f"http.{model.__name__}.schema.json"] = _dump(model.model_json_schema(mode="serialization"))
    document = asyncapi(messages)
    broken = broken_refs(document)
    if broken:
        raise ValueError(f"the AsyncAPI document has $refs that resolve to nothing: {', '.join(broken)}")
    documents["asyncapi.json"] = _dump(document)
    return documents


def _messages() -> dict[str, tuple[type[BaseModel], KafkaTopic | None]]:
    """Every message, by name: its model and its Kafka topic (None: an MQTT message)."""
    from schemas.telemetry import DeviceSample, SenMLPack, TelemetryBatch

    found: dict[str, tuple[type[BaseModel], KafkaTopic | None]] = {
        "DeviceSample": (DeviceSample, None), "TelemetryBatch": (TelemetryBatch, None), "SenMLPack": (SenMLPack, None),
    }
    for topic in ALL_KAFKA_TOPICS:
        try:
            found[topic.model.split(":")[1]] = (_model(topic.model), topic)
        except (ImportError, AttributeError):
            continue  # a topic whose model is not written yet is left out of the documents
    return found


# --- AsyncAPI 3.0 ---------------------------------------------------------------------

KAFKA_BINDING = "0.5.0"
MQTT_BINDING = "0.2.0"
MQTT_MAX_PACKET = 1_048_576  # Mosquitto's max_packet_size (deploy/mosquitto)
SCHEMAS = "#/components/schemas/"


def asyncapi(messages: dict[str, tuple[type[BaseModel], KafkaTopic | None]]) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of every MQTT and Kafka channel: what coldchain receives from
    devices and what its services send each other, with the payloads' schemas from ``schemas/``."""
    schemas = _component_schemas([model for model, _ in messages.values()])
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel_id, address, names, summary in (
        ("telemetry", MQTT_TELEMETRY, ("DeviceSample", "TelemetryBatch"),
         "Device telemetry: one sample, or a store-and-forward batch (an array of samples, any order)."),
        ("senml", MQTT_SENML, ("SenMLPack",), "The same samples as a SenML pack (RFC 8428, JSON)."),
    ):
        channels[channel_id] = {
            "address": address,
            "title": f"MQTT {channel_id}",
            "description": summary + " QoS 1; a device may publish only under its own id.",
            "servers": [{"$ref": "#/servers/mqtt"}],
            "parameters": {"device_id": {"description": "The device's id: 1-64 of [A-Za-z0-9_.-]; "
                                                        "equal to the payload's device_id and to the MQTT username."}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
        }
        operations[f"receive{channel_id.capitalize()}"] = {
            "action": "receive",
            "title": f"ingest receives {channel_id}",
            "description": "Ingest's persistent MQTT 5 session; the PUBACK is sent only once Kafka has "
                           "confirmed every record made from the message.",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"} for name in names],
            "bindings": {"mqtt": {"qos": 1, "retain": False, "bindingVersion": MQTT_BINDING}},
        }
    for name, (_, topic) in messages.items():
        if topic is None:
            continue
        channel_id = topic.name.removeprefix("coldchain.")
        topic_config: dict[str, Any] = {"cleanup.policy": ["compact" if topic.compacted else "delete"]}
        channels[channel_id] = {
            "address": topic.name,
            "title": topic.name,
            "description": f"{topic.description} Key: {topic.key}.",
            "servers": [{"$ref": "#/servers/kafka"}],
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"kafka": {"topic": topic.name, "partitions": PARTITIONS, "topicConfiguration": topic_config,
                                   "bindingVersion": KAFKA_BINDING}},
        }
        message_ref = [{"$ref": f"#/channels/{channel_id}/messages/{name}"}]
        for action, services in (("send", topic.producers), ("receive", topic.consumers)):
            if services:
                operations[f"{action}{channel_id.capitalize()}"] = {
                    "action": action,
                    "title": f"{', '.join(services)} {action}{'s' if len(services) == 1 else ''} {topic.name}",
                    "channel": {"$ref": f"#/channels/{channel_id}"},
                    "messages": message_ref,
                    "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING}},
                }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "coldchain", "version": "1.0.0",
                 "description": "The MQTT topics devices publish to, and the Kafka topics between coldchain's "
                                "services. Generated from schemas/ (`make schemas`)."},
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {"host": "127.0.0.1:19092", "protocol": "kafka", "protocolVersion": "3.9",
                      "description": "COLDCHAIN_KAFKA_BOOTSTRAP (the local stack's by default); extra client "
                                     "properties from COLDCHAIN_KAFKA_CONFIG.",
                      "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING}}},
            "mqtt": {"host": "127.0.0.1:11883", "protocol": "mqtt", "protocolVersion": "5",
                     "description": "Mosquitto's device listener (MQTT 3.1.1 and 5): username = device id, the "
                                    "client id forced to it; anonymous access refused. Services connect on "
                                    "their own listener (11884 on the local stack).",
                     "security": [{"$ref": "#/components/securitySchemes/device"}],
                     "bindings": {"mqtt": {"maximumPacketSize": MQTT_MAX_PACKET, "bindingVersion": MQTT_BINDING}}},
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": {name: _message(name, model, topic) for name, (model, topic) in messages.items()},
            "securitySchemes": {"device": {"type": "userPassword",
                                           "description": "The password `coldchain device add DEVICE_ID` prints."}},
        },
    }


def _component_schemas(models: list[type[BaseModel]]) -> dict[str, Any]:
    """Each model and every model it uses, once, with refs between them into components."""
    _, top = models_json_schema([(model, "serialization") for model in models],
                                ref_template=SCHEMAS + "{model}")
    return dict(sorted(top.get("$defs", {}).items()))


def _message(name: str, model: type[BaseModel], topic: KafkaTopic | None) -> dict[str, Any]:
    summary = (model.__doc__ or name).strip().splitlines()[0]
    message: dict[str, Any] = {"name": name, "title": name, "summary": summary,
                               "payload": {"$ref": SCHEMAS + name}}
    if topic is None:
        senml = name == "SenMLPack"
        message["contentType"] = "application/senml+json" if senml else "application/json"
        message["bindings"] = {"mqtt": {"payloadFormatIndicator": 1, "contentType": message["contentType"],
                                        "bindingVersion": MQTT_BINDING}}
    else:
        message["contentType"] = "application/json"
        message["bindings"] = {"kafka": {"key": {"type": "string", "description": topic.key},
                                         "bindingVersion": KAFKA_BINDING}}
    return message


def broken_refs(document: Any) -> list[str]:
    """Every local ``$ref`` in ``document`` that points at nothing (a JSON pointer, RFC 6901)."""
    broken: list[str] = []

    def resolves(pointer: str) -> bool:
        node: Any = document
        for part in pointer.removeprefix("#").split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return False
        return True

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and (not ref.startswith("#") or not resolves(ref)):
                broken.append(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    return sorted(set(broken))


def _dump(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def drift() -> list[str]:
    """Names of generated files that differ from what the models give now."""
    wanted = _documents()
    present = {p.name: p.read_text() for p in OUT.glob("*.json")} if OUT.exists() else {}
    return sorted(name for name in set(wanted) | set(present) if wanted.get(name) != present.get(name))


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = drift()
        if stale:
            print(f"schemas/generated is stale ({', '.join(stale)}): run `make schemas`", file=sys.stderr)
            return 1
        return 0
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    for name, text in _documents().items():
        (OUT / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
