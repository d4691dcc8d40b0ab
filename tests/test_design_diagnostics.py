"""Balance, overlap, trimming sensitivity and placebo outcomes on simulated data and on IHDP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_design_estimate import EFFECT, FAST, simulate

from engine.design.diagnostics import (
    OVERLAP_BOUNDS,
    SMD_FAIL_AT,
    SMD_PASS_BELOW,
    TRIM_SHIFT_FAIL_SE,
    TRIM_SHIFT_PASS_SE,
    TRIM_THRESHOLDS,
    balance,
    estimand_weights,
    overlap,
    placebo_outcome,
    standardized_differences,
    trimming_curve,
)
from engine.design.estimate import fit_dr, prepare
from engine.design.results import Status
from engine.design.spec import OutcomeLearner
from engine.problem import Contract, Estimand, OutcomeType


@pytest.fixture(scope="module")
def sim():
    frame, contract = simulate(n=1500, seed=4)
    data = prepare(frame, contract, contract.controls)
    return frame, contract, data, fit_dr(data, FAST)


def test_standardized_difference_by_hand() -> None:
    W = np.array([[0.0, 1.0], [2.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    t = np.array([0, 0, 1, 1])
    d = standardized_differences(W, t)
    assert d[0] == pytest.approx((3 - 1) / 1.0)  # both arms have variance 1
    assert d[1] == 0.0  # a constant column has no difference, not a division by zero
    # Weights that reproduce the other arm's mean remove the difference.
    assert standardized_differences(W, t, np.array([1.0, 1.0, 1.0, 0.0]))[0] == pytest.approx(1.0)


def test_weights_match_their_estimands() -> None:
    e = np.array([0.2, 0.5, 0.8])
    t = np.array([1, 0, 1])
    assert estimand_weights(e, t, Estimand.ATE) == pytest.approx([5.0, 2.0, 1.25])
    assert estimand_weights(e, t, Estimand.ATT) == pytest.approx([1.0, 1.0, 1.0])
    assert estimand_weights(e, t, Estimand.ATO) == pytest.approx([0.8, 0.5, 0.2])


@pytest.mark.parametrize("estimand", list(Estimand))
def test_weighting_balances_simulated_confounding(sim, estimand) -> None:
    frame, contract, data, fit = sim
    result = balance(data, fit.e, np.ones(data.n, dtype=bool), estimand)
    assert result.max_before >= SMD_FAIL_AT  # x1 drives treatment
    assert result.status_before is Status.FAIL
    assert result.status is Status.PASS, result.message
    assert result.max_after < SMD_PASS_BELOW
    assert [r.name for r in result.rows] == list(data.names)
    assert result.ess_treated <= result.n_treated + 1e-9


def test_a_propensity_model_that_misses_the_confounder_fails_balance(sim) -> None:
    frame, contract, data, _ = sim
    blind = fit_dr(prepare(frame, contract, ("x3",)), FAST)  # propensity from an irrelevant column
    result = balance(data, blind.e, np.ones(data.n, dtype=bool), Estimand.ATE)
    assert result.status is Status.FAIL
    assert "x1" in result.message and "switch the propensity learner" in result.message


def test_overlap_histogram_and_shares(sim) -> None:
    *_, data, fit = sim
    everyone = np.ones(data.n, dtype=bool)
    result = overlap(fit.e, data.t, everyone, Estimand.ATE)
    assert sum(result.counts_treated) == data.t.sum()
    assert sum(result.counts_control) == data.n - data.t.sum()
    assert len(result.bin_edges) == len(result.counts_treated) + 1
    outside = (fit.e < OVERLAP_BOUNDS[0]) | (fit.e > OVERLAP_BOUNDS[1])
    assert result.share_outside == pytest.approx(outside.mean())
    # After trimming to the bounds nothing is outside and the status passes.
    trimmed = overlap(fit.e, data.t, fit.keep(*OVERLAP_BOUNDS), Estimand.ATE)
    assert trimmed.share_outside_analysed == 0.0
    assert trimmed.status is Status.PASS


def test_poor_overlap_fails_for_ate_and_warns_for_ato() -> None:
    frame, contract = simulate(n=1500, seed=5, strength=4.0)
    data = prepare(frame, contract, contract.controls)
    fit = fit_dr(data, FAST)
    everyone = np.ones(data.n, dtype=bool)
    ate = overlap(fit.e, data.t, everyone, Estimand.ATE)
    assert ate.share_outside > 0.2
    assert ate.status is Status.FAIL
    assert "Trim to [0.1, 0.9]" in ate.message and "ATO" in ate.message
    assert overlap(fit.e, data.t, everyone, Estimand.ATO).status is Status.WARN


def test_trimming_curve_has_every_threshold_and_relabels(sim) -> None:
    *_, fit = sim
    result = trimming_curve(fit, Estimand.ATE)
    assert len(result.points) >= 7
    assert [p.threshold for p in result.points] == list(TRIM_THRESHOLDS)
    assert result.points[0].estimand == "ATE" and result.points[0].n == fit.data.n
    assert all(p.estimand == "ATO" for p in result.points[1:] if p.n < fit.data.n)
    assert [p.n for p in result.points] == sorted((p.n for p in result.points), reverse=True)
    assert all(p.ci_low <= EFFECT <= p.ci_high for p in result.points)
    assert result.status is Status.PASS  # a constant effect does not move with trimming


def _trimming_on_poor_overlap(bump: float):
    """The trimming curve of an ATE whose effect grows by ``bump`` where overlap is poor (|x| > 1.2)."""
    rng = np.random.default_rng(8)
    n = 3000
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-2.5 * x))).astype(int)
    y = t * (1.0 + bump * (np.abs(x) > 1.2)) + x + rng.normal(size=n)
    frame = pd.DataFrame({"t": t, "y": y, "x": x})
    contract = Contract("t", "y", OutcomeType.CONTINUOUS, Estimand.ATE, ("x",))
    fit = fit_dr(prepare(frame, contract, ("x",)), FAST.with_(outcome_learner=OutcomeLearner.GRADIENT_BOOSTING))
    return trimming_curve(fit, Estimand.ATE)


def test_trimming_curve_fails_when_the_extremes_carry_the_effect() -> None:
    result = _trimming_on_poor_overlap(3.0)  # the effect is four times larger where overlap is poor
    assert result.status is Status.FAIL
    assert result.max_shift_se > TRIM_SHIFT_FAIL_SE
    assert "past its own 95 % interval" in result.message and 'estimand = "ATO"' in result.message


def test_trimming_curve_warns_when_the_extremes_move_it_within_its_interval() -> None:
    result = _trimming_on_poor_overlap(0.1)
    assert result.status is Status.WARN
    assert TRIM_SHIFT_PASS_SE < result.max_shift_se <= TRIM_SHIFT_FAIL_SE
    assert "report the trimmed (overlap, ATO) estimate" in result.message


def test_placebo_outcome_passes_when_covariates_explain_it() -> None:
    frame, contract = simulate(n=1500, seed=6)
    result = placebo_outcome(frame, contract, FAST, "pre")
    assert result.status is Status.PASS, result.message
    assert result.ci_low <= 0 <= result.ci_high
    assert abs(result.std_effect) < 0.1


def test_placebo_outcome_fails_when_a_confounder_is_missing() -> None:
    frame, contract = simulate(n=1500, seed=6)
    # Adjusting for x3 alone leaves x1 — which drives both treatment and 'pre' — unadjusted.
    result = placebo_outcome(frame, contract, FAST.with_(covariates=("x3",)), "pre")
    assert result.status is Status.FAIL
    assert "missing confounder" in result.message


def test_placebo_outcome_drops_itself_from_the_covariates() -> None:
    frame, contract = simulate(n=800, seed=7)
    result = placebo_outcome(frame, contract, FAST, "x2")  # x2 is a control; it becomes the outcome
    assert result.column == "x2"
    assert np.isfinite(result.effect)


def test_ihdp_overlap_fires(ihdp) -> None:
    """FIELD-NOTES: on IHDP a logistic propensity model puts about 30 % of units below 0.1."""
    from engine.design.spec import load_spec

    spec = load_spec(ihdp.path, ihdp.contract).with_(outcome_learner=OutcomeLearner.LINEAR)
    data = prepare(ihdp.data, ihdp.contract, spec.resolved_covariates(ihdp.contract))
    fit = fit_dr(data, spec)
    result = overlap(fit.e, data.t, np.ones(data.n, dtype=bool), Estimand.ATE)
    assert 0.25 <= result.share_below <= 0.40
    assert result.share_outside_control > result.share_outside_treated
    assert result.status is Status.FAIL
