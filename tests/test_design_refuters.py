"""DoWhy-style refuters on simulated data: they pass on a sound analysis and fail where they must."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from test_design_estimate import EFFECT, FAST, simulate

from engine.design.estimate import dr_estimate, prepare
from engine.design.refuters import (
    data_subset,
    dummy_outcome,
    placebo_treatment,
    placebo_treatment_vector,
    random_common_cause,
)
from engine.design.results import Status


@pytest.fixture(scope="module")
def sound():
    frame, contract = simulate(n=1500, seed=11)
    data = prepare(frame, contract, contract.controls)
    original, _ = dr_estimate(data, FAST)
    assert original.covers(EFFECT)
    return data, original


def test_placebo_treatment_passes_on_a_sound_analysis(sound) -> None:
    data, original = sound
    result = placebo_treatment(data, FAST, original)
    assert result.passed and result.status is Status.PASS
    assert result.expected == 0.0
    assert abs(result.estimate) < 0.1 * abs(original.effect) or result.ci_low <= 0.0 <= result.ci_high
    assert result.original == original.effect
    assert result.reading.startswith("Pass:")


def test_random_common_cause_passes(sound) -> None:
    data, original = sound
    result = random_common_cause(data, FAST, original)
    assert result.passed
    assert result.expected == original.effect
    assert abs(result.estimate - original.effect) < original.se


def test_data_subset_passes(sound) -> None:
    data, original = sound
    result = data_subset(data, FAST, original, repeats=2)
    assert result.passed
    assert original.ci_low <= result.ci_low <= result.ci_high <= original.ci_high  # the range of subset estimates
    assert "2 subsets of 80%" in result.detail
    assert "range" in result.reading


def test_dummy_outcome_passes(sound) -> None:
    data, original = sound
    result = dummy_outcome(data, FAST, original)
    assert result.passed
    assert result.ci_low <= 0.0 <= result.ci_high


def test_null_rule_tolerates_chance_but_not_a_real_effect(sound) -> None:
    from engine.design.refuters import null_passes

    data, original = sound
    chance = replace(original, effect=0.15, se=0.07)  # z ≈ 2.1: happens in 1 refit of 30
    assert null_passes(chance, original)
    small_but_sure = replace(original, effect=0.15, se=0.01)  # significant, but under a tenth of 1.97
    assert null_passes(small_but_sure, original)
    real = replace(original, effect=0.6, se=0.07)
    assert not null_passes(real, original)


def test_placebo_treatment_fails_on_a_leaky_covariate(sound) -> None:
    """A covariate built from the outcome and the treatment the pipeline is handed (here: the
    placebo it will be handed) lets the 'effect' of a random treatment through; the refuter
    must flag it. (A leak of the *real* treatment would not: permuting breaks its tie.)"""
    data, original = sound
    t_placebo = placebo_treatment_vector(data.t, FAST.seed)
    noise = np.random.default_rng(0).normal(scale=0.1, size=data.n)
    leak = data.y - 3.0 * t_placebo + noise
    leaky = replace(data, W=np.column_stack([data.W, leak]), names=data.names + ("leak",))
    result = placebo_treatment(leaky, FAST, original)
    assert not result.passed and result.status is Status.FAIL
    assert result.estimate == pytest.approx(3.0, abs=0.1)
    assert result.reading.startswith("FAIL:") and "leakage" in result.reading


def test_data_subset_fails_when_a_few_rows_drive_the_estimate(sound) -> None:
    data, original = sound
    # An 'original' whose interval is far narrower than the data support: subsets leave it.
    too_sure = replace(original, ci_low=original.effect - 1e-4, ci_high=original.effect + 1e-4)
    result = data_subset(data, FAST, too_sure, repeats=2)
    assert not result.passed
    assert result.reading.startswith("FAIL:")
