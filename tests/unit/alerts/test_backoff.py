from __future__ import annotations

from datetime import timedelta

from services.alerts.backoff import Backoff, backoff_delay, gives_up

POLICY = Backoff(base=timedelta(seconds=10), factor=2.0, cap=timedelta(minutes=5), jitter=0.2)


def test_delay_grows_exponentially_within_the_jitter() -> None:
    for attempts in range(1, 6):
        nominal = 10 * 2 ** (attempts - 1)
        delay = backoff_delay(attempts, "dl-1", POLICY).total_seconds()
        assert nominal * 0.8 <= delay <= nominal * 1.2


def test_delay_is_capped() -> None:
    for attempts in (10, 50, 1000):
        assert backoff_delay(attempts, "dl-1", POLICY) <= POLICY.cap * 1.2
        assert backoff_delay(attempts, "dl-1", POLICY) >= POLICY.cap * 0.8


def test_delay_is_deterministic_per_key_and_spread_across_keys() -> None:
    assert backoff_delay(3, "dl-1", POLICY) == backoff_delay(3, "dl-1", POLICY)
    spread = {backoff_delay(3, f"dl-{i}", POLICY) for i in range(20)}
    assert len(spread) > 10


def test_no_jitter_gives_exact_powers() -> None:
    exact = Backoff(base=timedelta(seconds=1), factor=3.0, cap=timedelta(hours=1), jitter=0)
    assert [backoff_delay(n, "k", exact).total_seconds() for n in (1, 2, 3)] == [1, 3, 9]


def test_gives_up_at_max_attempts() -> None:
    policy = Backoff(max_attempts=3)
    assert not gives_up(2, policy) and gives_up(3, policy)
