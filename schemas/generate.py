"""Writes the JSON Schema of every message and an AsyncAPI 2.6 document from the models.

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

from schemas.topics import ALL_KAFKA_TOPICS, MQTT_SENML, MQTT_TELEMETRY

OUT = Path(__file__).resolve().parent / "generated"


def _model(path: str) -> type[BaseModel]:
    module, name = path.split(":")
    model = getattr(importlib.import_module(module), name)
    assert issubclass(model, BaseModel)
    return model


def _documents() -> dict[str, str]:
    from schemas.shipment import ShipmentIn
    from schemas.telemetry import DeviceSample, SenMLPack, TelemetryBatch

    models: dict[str, type[BaseModel]] = {
        "DeviceSample": DeviceSample, "TelemetryBatch": TelemetryBatch, "SenMLPack": SenMLPack,
        "ShipmentIn": ShipmentIn,
    }
    for topic in ALL_KAFKA_TOPICS:
        try:
            models[topic.model.split(":")[1]] = _model(topic.model)
        except (ImportError, AttributeError):
            continue  # a topic whose model is not written yet is left out of the documents
    schemas = {name: model.model_json_schema(mode="serialization") for name, model in sorted(models.items())}
    documents = {f"{name}.schema.json": _dump(schema) for name, schema in schemas.items()}
    # The HTTP API's response bodies (schemas/http.py), beside the OpenAPI document it serves.
    from schemas.http import HTTP_MODELS

    for model in HTTP_MODELS:
        documents[f"http.{model.__name__}.schema.json"] = _dump(model.model_json_schema(mode="serialization"))
    documents["asyncapi.json"] = _dump(_asyncapi(schemas))
    return documents


def _asyncapi(schemas: dict[str, Any]) -> dict[str, Any]:
    channels: dict[str, Any] = {
        MQTT_TELEMETRY: {"description": "Device telemetry: one sample, or a store-and-forward batch (MQTT, QoS 1).",
                         "publish": {"message": {"oneOf": [{"$ref": "#/components/messages/DeviceSample"},
                                                           {"$ref": "#/components/messages/TelemetryBatch"}]}}},
        MQTT_SENML: {"description": "The same samples as a SenML pack (RFC 8428).",
                     "publish": {"message": {"$ref": "#/components/messages/SenMLPack"}}},
    }
    for topic in ALL_KAFKA_TOPICS:
        name = topic.model.split(":")[1]
        if name in schemas:
            channels[topic.name] = {"description": f"{topic.description} Key: {topic.key}.",
                                    "subscribe": {"message": {"$ref": f"#/components/messages/{name}"}}}
    return {
        "asyncapi": "2.6.0",
        "info": {"title": "coldchain", "version": "1.0.0",
                 "description": "MQTT device topics and the Kafka topics between coldchain's services."},
        "channels": channels,
        "components": {
            "messages": {name: {"name": name, "contentType": "application/json",
                                "payload": {"$ref": f"#/components/schemas/{name}"}} for name in schemas},
            "schemas": schemas,
        },
    }


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
