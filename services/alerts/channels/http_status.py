"""Which HTTP answers from an SMS provider are worth retrying."""

from __future__ import annotations

from services.alerts.channels.base import (
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
)

# Timeout, conflict-in-progress, too early, throttled, and auth (a configuration fix
# must not lose the queued messages).
_RETRYABLE_4XX = frozenset({401, 403, 408, 409, 425, 429})


def error_for_status(provider: str, status: int, text: str) -> DeliveryError | None:
    """None for 2xx; otherwise the typed error to raise."""
    if 200 <= status < 300:
        return None
    detail = f"{provider} HTTP {status}: {text[:200]}"
    if status >= 500 or status in _RETRYABLE_4XX:
        return RetryableDeliveryError(detail)
    return PermanentDeliveryError(detail)
