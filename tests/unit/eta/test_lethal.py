"""Lethal limits on the modelled body temperature (services/eta/lethal.py, via the ledger)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.eta.lethal import BodyModel, Exposure, body_model
from services.eta.viability import ViabilityLedger, lethal_exposure, record, settle
from services.profiles.catalog import load_profiles
from services.profiles.model import LethalLimits

PROFILE = load_profiles()["live-lobster"]
BUCKET = 10
SLEW_C_PER_H = 6.0
BODY = body_model(PROFILE, BUCKET, SLEW_C_PER_H)
PACKED = datetime(2026, 11, 9, 18, 0, tzinfo=UTC)

Samples = list[tuple[datetime, float]]


def _model(**changes: float) -> BodyModel:
    assert PROFILE.lethal is not None
    lethal = PROFILE.lethal.model_copy(update=changes)
    return body_model(PROFILE.model_copy(update={"lethal": lethal}), BUCKET, SLEW_C_PER_H)  # type: ignore[return-value]


def _run(temps: list[tuple[float, float]], every_min: float = 5.0) -> Samples:
    """Readings every ``every_min`` from packing: ``(hours, temp_c)`` spells one after another."""
    samples: Samples = []
    time = PACKED
    for hours, temp in temps:
        end = time + timedelta(hours=hours)
        while time < end:
            samples.append((time, temp))
            time += timedelta(minutes=every_min)
    return samples


def _ledger(samples: Samples) -> ViabilityLedger:
    ledger = ViabilityLedger()
    for time, temp in samples:
        ledger = record(ledger, time, temp, PACKED, BUCKET)
    return ledger


def _verdict(samples: Samples, body: BodyModel | None = BODY) -> Exposure:
    until = max(time for time, _ in samples)
    return lethal_exposure(_ledger(samples), body, PACKED, until)


def test_the_demo_freeze_is_lost_to_freezing_within_two_hours_of_its_start() -> None:
    # The demo: -3.8 C for 5.7 h. The fleet said "ok, viability 18.1 h left".
    freeze_at = PACKED + timedelta(hours=2)
    verdict = _verdict(_run([(2, 3.0), (5.7, -3.8), (10, 3.0)]))
    assert verdict.loss is not None and verdict.loss.reason == "freezing"
    # The body takes about an hour to cool through -1.5 C, then 30 min there kill.
    assert freeze_at + timedelta(minutes=60) <= verdict.loss.at <= freeze_at + timedelta(minutes=120)


def test_a_five_minute_dip_to_minus_three_is_not_a_death() -> None:
    verdict = _verdict(_run([(3, 2.0), (5 / 60, -3.0), (3, 2.0)], every_min=1))
    assert verdict.loss is None and not verdict.touched


def test_the_body_lag_is_what_spares_a_forty_minute_dip() -> None:
    samples = _run([(3, 2.0), (40 / 60, -3.8), (3, 2.0)], every_min=1)
    assert _verdict(samples).loss is None
    unlagged = _verdict(samples, _model(body_time_constant_min=0))
    assert unlagged.loss is not None and unlagged.loss.reason == "freezing"


def test_sustained_heat_is_lost_to_heat() -> None:
    heat_at = PACKED + timedelta(hours=2)
    verdict = _verdict(_run([(2, 4.0), (4, 25.0)]))
    assert verdict.loss is not None and verdict.loss.reason == "heat"
    # About 1.5 h for the body to warm through 20 C, then an hour there.
    assert heat_at + timedelta(hours=2) <= verdict.loss.at <= heat_at + timedelta(hours=3)


def test_a_warm_spell_below_the_heat_limit_only_wears_the_budget() -> None:
    assert _verdict(_run([(2, 4.0), (4, 18.0), (2, 4.0)])).loss is None


def test_cold_but_not_freezing_for_forty_hours_is_ok() -> None:
    verdict = _verdict(_run([(40, 0.5)]))
    assert verdict.loss is None and not verdict.touched
    assert (verdict.cold_min, verdict.warm_min) == (0.0, 0.0)


def test_a_body_that_touched_a_limit_is_harmed_before_it_is_lost() -> None:
    # 1.2 h at -3.8 C: the body crosses -1.5 C after about an hour, not long enough to kill.
    verdict = _verdict(_run([(2, 3.0), (1.2, -3.8), (3, 3.0)]))
    assert verdict.loss is None and verdict.touched and 0 < verdict.cold_min < 30


def test_lost_stays_lost_however_long_it_is_kept_cold_again() -> None:
    samples = _run([(2, 3.0), (5.7, -3.8)])
    lost = _verdict(samples).loss
    assert lost is not None
    for hours in (1, 10, 60):
        later = _run([(2, 3.0), (5.7, -3.8), (hours, 2.0)])
        assert _verdict(later).loss == lost


def test_a_loss_found_survives_settling_and_later_readings() -> None:
    samples = _run([(2, 3.0), (5.7, -3.8), (40, 2.0)])
    ledger = _ledger(samples)
    found = _verdict(samples).loss
    settled = settle(ledger, PROFILE.viability, BODY, PACKED, PACKED + timedelta(hours=12), BUCKET)
    assert settled.lost == found and settled.body is not None and settled.body.cold_min >= 30
    until = samples[-1][0]
    assert lethal_exposure(settled, BODY, PACKED, until).loss == found
    # Settled again in small steps, the folded body gives the same answer.
    stepped = ledger
    for hours in range(1, 13):
        stepped = settle(stepped, PROFILE.viability, BODY, PACKED, PACKED + timedelta(hours=hours), BUCKET)
    assert stepped.lost == found
    assert lethal_exposure(stepped, BODY, PACKED, until).loss == found


def test_an_hourly_tracker_in_a_freezer_still_shows_the_freeze() -> None:
    # Gaps take the air the nearest readings allow (6 C/h towards safety), not "unknown".
    verdict = _verdict(_run([(2, 3.0), (6, -3.8), (2, 3.0)], every_min=60))
    assert verdict.loss is not None and verdict.loss.reason == "freezing"


def test_a_product_without_lethal_limits_is_never_lost() -> None:
    assert _verdict(_run([(2, 3.0), (6, -20.0)]), body=None) == Exposure(0.0, 0.0, None)


def test_lethal_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="low_c, high_c or both"):
        LethalLimits(body_time_constant_min=60)
    with pytest.raises(ValueError, match="below high_c"):
        LethalLimits(low_c=5.0, high_c=-1.0)
    with pytest.raises(ValueError, match="at or below critical low_c"):
        PROFILE.model_validate({**PROFILE.model_dump(), "lethal": {"low_c": 0.0}})
    assert PROFILE.model_validate({**PROFILE.model_dump(), "lethal": None}).lethal is None


# --- order independence -------------------------------------------------------------------


@st.composite
def _trips(draw: st.DrawFn) -> Samples:
    """A trip under 36 h (inside the lateness horizon) whose air changes no faster than the
    gap slew: spells of steady air joined by ramps, sampled at an irregular pace."""
    samples: Samples = []
    time, temp = PACKED, draw(st.floats(0.0, 5.0))
    for _ in range(draw(st.integers(1, 5))):
        target = draw(st.sampled_from([-6.0, -3.8, -1.6, 0.5, 4.0, 15.0, 21.0, 26.0]))
        ramp_min = abs(target - temp) / SLEW_C_PER_H * 60
        hold_min = draw(st.floats(0, 240))
        steps = max(1, int((ramp_min + hold_min) / 5))
        for step in range(steps + 1):
            minute = (ramp_min + hold_min) * step / steps
            share = min(1.0, minute / ramp_min) if ramp_min else 1.0
            samples.append((time + timedelta(minutes=minute), round(temp + (target - temp) * share, 2)))
        time, temp = samples[-1][0] + timedelta(minutes=draw(st.floats(1, 30))), target
    keep = draw(st.lists(st.booleans(), min_size=len(samples), max_size=len(samples)))
    thinned = [s for s, kept in zip(samples, keep, strict=True) if kept] or samples[:1]
    assert thinned[-1][0] - PACKED < timedelta(hours=36)
    return thinned


def _fold(samples: Samples) -> tuple[ViabilityLedger, list[Exposure]]:
    """Readings one by one as the processor folds them: each verdict kept, as it keeps a loss."""
    ledger, verdicts, now = ViabilityLedger(), [], PACKED
    for time, temp in samples:
        now = max(now, time)
        ledger = record(ledger, time, temp, PACKED, BUCKET)
        verdict = lethal_exposure(ledger, BODY, PACKED, now)
        ledger = ledger.model_copy(update={"lost": verdict.loss})
        verdicts.append(verdict)
    return ledger, verdicts


@settings(max_examples=60, deadline=None)
@given(trip=_trips(), seed=st.integers(0, 2**32 - 1))
def test_shuffled_readings_give_the_verdict_sorted_readings_give(trip: Samples, seed: int) -> None:
    shuffled = trip * 2  # duplicates too: a replayed batch
    random.Random(seed).shuffle(shuffled)
    in_order, _ = _fold(sorted(trip))
    out_of_order, verdicts = _fold(shuffled)
    assert out_of_order == in_order
    assert verdicts[-1] == lethal_exposure(in_order, BODY, PACKED, trip[-1][0])
    # And never, on the way, a loss the whole trip does not bear out (a false alarm at 3 am).
    final = verdicts[-1].loss
    for verdict in verdicts:
        assert verdict.loss is None or (final is not None and final.at <= verdict.loss.at)


@settings(max_examples=60, deadline=None)
@given(trip=_trips(), cuts=st.lists(st.floats(0, 1), min_size=1, max_size=3))
def test_settling_folds_the_body_without_changing_its_verdict(trip: Samples, cuts: list[float]) -> None:
    ledger, until = _ledger(trip), trip[-1][0]
    whole = lethal_exposure(ledger, BODY, PACKED, until)
    folded = ledger
    for cut in sorted(cuts):  # the horizon moving on, in steps
        horizon = PACKED + (until - PACKED) * cut
        folded = settle(folded, PROFILE.viability, BODY, PACKED, horizon, BUCKET)
    again = lethal_exposure(folded, BODY, PACKED, until)
    assert again.loss == whole.loss
    assert again.cold_min == pytest.approx(whole.cold_min, abs=1e-6)
    assert again.warm_min == pytest.approx(whole.warm_min, abs=1e-6)
