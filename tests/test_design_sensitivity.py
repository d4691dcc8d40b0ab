"""Hidden-confounder sensitivity: the formulas against published worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.design.results import DREstimate, Status
from engine.design.sensitivity import (
    RR_PER_SMD,
    e_value,
    ols_treatment,
    partial_r2,
    robustness_value,
    sensitivity,
)


def test_e_value_matches_vanderweele_ding_worked_example() -> None:
    # VanderWeele & Ding (2017), Ann Intern Med: RR 0.80 (95 % CI 0.71 to 0.91) → E-value 1.81, CI limit 1.43.
    point, ci = e_value(0.80, 0.71, 0.91)
    assert round(point, 2) == 1.81
    assert round(ci, 2) == 1.43


def test_e_value_is_symmetric_in_the_direction_of_the_effect() -> None:
    point, ci = e_value(1 / 0.80, 1 / 0.91, 1 / 0.71)
    assert point == pytest.approx(e_value(0.80, 0.71, 0.91)[0])
    assert ci == pytest.approx(e_value(0.80, 0.71, 0.91)[1])


def test_e_value_of_an_interval_through_the_null_is_one() -> None:
    point, ci = e_value(1.3, 0.9, 1.8)
    assert point == pytest.approx(1.3 + math.sqrt(1.3 * 0.3))
    assert ci == 1.0
    assert e_value(1.0)[0] == 1.0
    assert e_value(2.0) == (pytest.approx(2 + math.sqrt(2)), None)
    with pytest.raises(ValueError):
        e_value(-1.0)


def test_robustness_value_matches_sensemakr_darfur() -> None:
    # Cinelli & Hazlett (2020), sensemakr's Darfur example: estimate 0.0973, SE 0.0233, df 783 →
    # RV_q=1 = 13.9 %, RV_q=1,α=0.05 = 7.6 %, partial R² of the treatment 2.2 %.
    assert round(robustness_value(0.0973, 0.0233, 783) * 100, 1) == 13.9
    assert round(robustness_value(0.0973, 0.0233, 783, alpha=0.05) * 100, 1) == 7.6
    assert round(partial_r2(0.0973 / 0.0233, 783) * 100, 1) == 2.2


def test_robustness_value_limits() -> None:
    assert robustness_value(0.0, 1.0, 100) == 0.0
    assert robustness_value(1.0, 1.0, 100, alpha=0.05) == 0.0  # t = 1 is not significant to begin with
    # q = 0.5 needs a weaker confounder than explaining the whole estimate away.
    assert robustness_value(0.0973, 0.0233, 783, q=0.5) < robustness_value(0.0973, 0.0233, 783)
    # A huge t-statistic uses sensemakr's extreme-case branch and stays a valid partial R².
    assert 0.0 < robustness_value(50.0, 1.0, 100, alpha=0.05) < 1.0


def test_ols_treatment_recovers_a_linear_effect() -> None:
    rng = np.random.default_rng(0)
    W = rng.normal(size=(500, 3))
    t = (W[:, 0] + rng.normal(size=500) > 0).astype(float)
    y = 2.0 * t + W @ np.array([1.0, -1.0, 0.5]) + rng.normal(size=500)
    coef, se, dof = ols_treatment(y, t, W)
    assert abs(coef - 2.0) < 3 * se
    assert dof == 500 - 5
    # A constant column (collinear with the intercept) is dropped, not allowed to break the fit.
    coef2, _, dof2 = ols_treatment(y, t, np.column_stack([W, np.ones(500)]))
    assert coef2 == pytest.approx(coef)
    assert dof2 == dof


def _estimate(effect: float, lo: float, hi: float) -> DREstimate:
    return DREstimate("ATE", "ATE", effect, (hi - lo) / 3.92, lo, hi, 500, 500, 250, 250, "test")


def test_continuous_outcome_is_converted_through_the_standardized_difference() -> None:
    rng = np.random.default_rng(1)
    W = rng.normal(size=(500, 2))
    t = rng.integers(0, 2, 500).astype(float)
    y = 1.0 * t + W[:, 0] + rng.normal(size=500)
    result = sensitivity(_estimate(1.0, 0.8, 1.2), y, t, W, binary=False)
    d = 1.0 / np.std(y)
    assert result.rr == pytest.approx(math.exp(RR_PER_SMD * d))
    assert result.e_value == pytest.approx(e_value(result.rr)[0])
    assert "exp(0.91·d)" in result.conversion
    assert result.status is Status.PASS
    assert result.rv > result.rv_alpha > 0


def test_binary_outcome_uses_the_risk_ratio_at_baseline_risk() -> None:
    rng = np.random.default_rng(2)
    t = rng.integers(0, 2, 2000).astype(float)
    y = (rng.random(2000) < 0.2 + 0.05 * t).astype(float)
    W = rng.normal(size=(2000, 1))
    result = sensitivity(_estimate(0.05, 0.01, 0.09), y, t, W, binary=True, baseline_risk=0.2)
    assert result.rr == pytest.approx(0.25 / 0.2)
    assert result.rr_low == pytest.approx(0.21 / 0.2)
    assert "baseline risk 0.200" in result.conversion


def test_null_interval_warns() -> None:
    rng = np.random.default_rng(3)
    W = rng.normal(size=(300, 2))
    t = rng.integers(0, 2, 300).astype(float)
    y = W[:, 0] + rng.normal(size=300)
    result = sensitivity(_estimate(0.05, -0.2, 0.3), y, t, W, binary=False)
    assert result.e_value_ci == 1.0
    assert result.status is Status.WARN
    assert "already includes no effect" in result.message
