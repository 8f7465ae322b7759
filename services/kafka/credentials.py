"""faust (aiokafka) credentials from the librdkafka-style properties of ``COLDCHAIN_KAFKA_CONFIG``."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import faust
from faust.types.auth import CredentialsT


def broker_credentials(config: Mapping[str, Any]) -> CredentialsT | None:
    """faust credentials from librdkafka-style properties (``COLDCHAIN_KAFKA_CONFIG``).

    Understood: ``security.protocol`` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL),
    ``sasl.mechanism`` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), ``sasl.username``,
    ``sasl.password`` and ``ssl.ca.location``; other properties are librdkafka-only.
    """
    protocol = str(config.get("security.protocol", "PLAINTEXT")).upper()
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=config.get("ssl.ca.location"))
    if protocol == "SSL":
        assert context is not None
        return faust.SSLCredentials(context)
    if protocol not in ("SASL_PLAINTEXT", "SASL_SSL"):
        raise ValueError(f"unsupported security.protocol {protocol!r}")
    return faust.SASLCredentials(
        username=config.get("sasl.username"),
        password=config.get("sasl.password"),
        mechanism=str(config.get("sasl.mechanism", "PLAIN")),
        ssl_context=context,
    )
