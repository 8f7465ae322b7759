"""How long to wait before the next delivery attempt: a pure function."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Backoff:
    base: timedelta = timedelta(seconds=15)
    factor: float = 2.0
    cap: timedelta = timedelta(minutes=10)
    jitter: float = 0.2  # +-20 %, so deliveries failed together do not retry together
    max_attempts: int = 40  # at the cap, about six hours of a provider being down


def backoff_delay(attempts: int, key: str, policy: Backoff) -> timedelta:
    """Delay after ``attempts`` failed attempts (>= 1); the jitter is a hash of ``key``."""
    exponent = max(attempts - 1, 0)
    raw = policy.base.total_seconds() * policy.factor ** min(exponent, 64)
    capped = min(raw, policy.cap.total_seconds())
    spread = _unit(f"{key}:{attempts}") * 2.0 - 1.0  # in [-1, 1)
    return timedelta(seconds=max(capped * (1.0 + policy.jitter * spread), 0.0))


def gives_up(attempts: int, policy: Backoff) -> bool:
    return attempts >= policy.max_attempts


def _unit(key: str) -> float:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
