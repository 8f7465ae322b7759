"""The generated AsyncAPI document is AsyncAPI 3.0.0 as the specification's own JSON Schema
defines it, names every topic, and every $ref in it resolves."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from schemas.generate import OUT, broken_refs
from schemas.topics import ALL_KAFKA_TOPICS, MQTT_SENML, MQTT_TELEMETRY
from tests.unit.schemas.asyncapi_spec import asyncapi_validator


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    found: dict[str, Any] = json.loads((OUT / "asyncapi.json").read_text())
    return found


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    return asyncapi_validator()


def _problems(validator: jsonschema.Draft7Validator, document: dict[str, Any]) -> list[str]:
    """What the AsyncAPI schema refuses, and every $ref that resolves to nothing."""
    found = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
    return found + [f"broken $ref {ref}" for ref in broken_refs(document)]


def test_the_document_is_valid_asyncapi_3(document: dict[str, Any], validator: jsonschema.Draft7Validator) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert _problems(validator, document) == []


def test_every_topic_has_its_channel_server_and_bindings(document: dict[str, Any]) -> None:
    by_address = {channel["address"]: channel for channel in document["channels"].values()}
    assert set(by_address) == {MQTT_TELEMETRY, MQTT_SENML, *(topic.name for topic in ALL_KAFKA_TOPICS)}
    assert {server["protocol"] for server in document["servers"].values()} == {"kafka", "mqtt"}
    for topic in ALL_KAFKA_TOPICS:
        channel = by_address[topic.name]
        assert channel["servers"] == [{"$ref": "#/servers/kafka"}]
        assert channel["bindings"]["kafka"]["topic"] == topic.name
        policy = channel["bindings"]["kafka"]["topicConfiguration"]["cleanup.policy"]
        assert policy == (["compact"] if topic.compacted else ["delete"])
    for address in (MQTT_TELEMETRY, MQTT_SENML):
        assert by_address[address]["servers"] == [{"$ref": "#/servers/mqtt"}]
    operations = document["operations"].values()
    assert all(op["action"] in ("send", "receive") for op in operations)
    received = [op for op in operations if op["channel"]["$ref"] in ("#/channels/telemetry", "#/channels/senml")]
    assert len(received) == 2 and all(op["bindings"]["mqtt"]["qos"] == 1 for op in received)
    for message in document["components"]["messages"].values():
        assert set(message["bindings"]) <= {"kafka", "mqtt"} and message["bindings"]


def test_a_broken_ref_fails_the_check(document: dict[str, Any], validator: jsonschema.Draft7Validator) -> None:
    broken = copy.deepcopy(document)
    broken["components"]["messages"]["ReadingBatch"]["payload"] = {"$ref": "#/components/schemas/NoSuchModel"}
    assert _problems(validator, broken) == ["broken $ref #/components/schemas/NoSuchModel"]
    # The 2.6 document's refs into a $defs that did not exist are caught the same way.
    nested = copy.deepcopy(document)
    nested["components"]["schemas"]["Reading"]["properties"]["x"] = {"$ref": "#/$defs/Reading"}
    assert "broken $ref #/$defs/Reading" in _problems(validator, nested)


def test_a_document_that_is_not_asyncapi_3_fails(document: dict[str, Any],
                                                 validator: jsonschema.Draft7Validator) -> None:
    wrong = copy.deepcopy(document)
    wrong["operations"]["receiveReadings"]["action"] = "subscribe"  # the 2.x verb
    assert _problems(validator, wrong)
