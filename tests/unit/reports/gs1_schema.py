"""Where the tests find GS1's published EPCIS 2.0 JSON Schema.

The schema is GS1's file, not coldchain's: it is kept beside the repository in the team's
shared folder (``shared/gs1/EPCIS-JSON-Schema.json``, with GS1's LICENSE and a README
saying where and when it was taken), or named by ``COLDCHAIN_GS1_EPCIS_SCHEMA``. The
digest pins the exact file the tests were written against.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

SCHEMA_NAME = "EPCIS-JSON-Schema.json"
# gs1/EPCIS, branch master, file EPCIS-JSON-Schema.json as of commit 2b888bef (2023-05-16).
SCHEMA_SHA256 = "ed3228d7867198b4a5be9748fe77f473457c6ed98224fab28a950b4ce634a041"
REPO = Path(__file__).resolve().parents[3]


def _candidates() -> list[Path]:
    named = os.environ.get("COLDCHAIN_GS1_EPCIS_SCHEMA")
    return [*([Path(named)] if named else []), REPO.parent / "shared" / "gs1" / SCHEMA_NAME]


def epcis_validator() -> jsonschema.Draft7Validator:
    """The schema's validator (it declares draft-07), with its formats really checked."""
    found = next((p for p in _candidates() if p.is_file()), None)
    if found is None:
        pytest.skip(f"GS1's {SCHEMA_NAME} is not in shared/gs1/ (or COLDCHAIN_GS1_EPCIS_SCHEMA)")
    raw = found.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, f"{found} is not the pinned GS1 schema"
    schema: dict[str, Any] = json.loads(raw)
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
