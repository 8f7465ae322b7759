"""The official AsyncAPI 3.0.0 JSON Schema, for the test that validates coldchain's document.

It is the AsyncAPI Initiative's, not coldchain's, so it is not in the repository: it comes from
the package that publishes it, ``@asyncapi/specs`` on the npm registry (its bundled
``schemas/3.0.0.json``, ``$id`` http://asyncapi.com/definitions/3.0.0/asyncapi.json, with every
definition and the Kafka and MQTT bindings inside), fetched with ``npm pack`` once into the
stack's downloads (``$COLDCHAIN_STACK_DIR/downloads/asyncapi/``, ``.stack/`` by default), or
named by ``COLDCHAIN_ASYNCAPI_SCHEMA``. The digest pins the exact file; a machine that cannot
fetch it fails the test rather than skipping it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema

from tests.harness.npm_files import downloads, npm_file, pinned_bytes

PACKAGE = "@asyncapi/specs@6.11.1"
MEMBER = "package/schemas/3.0.0.json"
SCHEMA_SHA256 = "d4571a420e6ffb7fcc7066c95a6db1202f299a3c51daa103d0706bf30f95e626"


def _fetch() -> Path:
    named = os.environ.get("COLDCHAIN_ASYNCAPI_SCHEMA")
    if named:
        return Path(named)
    return npm_file(PACKAGE, MEMBER, downloads() / "asyncapi" / "asyncapi-3.0.0.schema.json")


def asyncapi_validator() -> jsonschema.Draft7Validator:
    """The AsyncAPI 3.0.0 document schema's validator (it declares draft-07)."""
    schema: dict[str, Any] = json.loads(pinned_bytes(_fetch(), SCHEMA_SHA256, "AsyncAPI 3.0.0 schema"))
    assert schema["$id"] == "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
    return jsonschema.Draft7Validator(schema)
