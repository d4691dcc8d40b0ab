"""The doubly-robust estimate on simulated data with a known effect, and its agreement with EconML."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from engine.design.estimate import Z95, dr_estimate, estimand_label, estimate_effect, fit_dr, prepare
from engine.design.spec import AnalysisSpec, Estimator, OutcomeLearner, PropensityLearner
from engine.errors import SpecError
from engine.problem import Contract, Estimand, ForbiddenReason, ForbiddenVariable, OutcomeType

EFFECT = 2.0

CONTRACT = Contract(
    treatment="t",
    outcome="y",
    outcome_type=OutcomeType.CONTINUOUS,
    estimand=Estimand.ATE,
    controls=("x1", "x2", "x3", "group"),
    categorical=("group",),
    forbidden=(ForbiddenVariable("post", ForbiddenReason.POST_TREATMENT),),
    pretreatment=("pre",),
)

# Fast learners: every fit here is linear, so the file runs in seconds.
FAST = AnalysisSpec(
    propensity_learner=PropensityLearner.LOGISTIC, outcome_learner=OutcomeLearner.LINEAR, folds=3, seed=1
)


def simulate(n: int = 1200, seed: int = 0, effect: float = EFFECT, binary: bool = False, strength: float = 1.0):
    """Confounded data: x1 drives treatment and outcome; 'pre' is a pre-treatment column driven by x1 and x2."""
    rng = np.random.default_rng(seed)
    x1, x2, x3 = rng.normal(size=(3, n))
    group = rng.choice(["a", "b", "c"], size=n)
    logit = strength * (0.9 * x1 - 0.5 * x2) + 0.3 * (group == "b")
    t = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    base = 1.5 * x1 + x2 - 0.5 * x3 + 0.5 * (group == "c")
    if binary:
        p = 1 / (1 + np.exp(-(-0.5 + 0.6 * x1 + 0.3 * x2)))
        y = (rng.random(n) < np.clip(p + effect * t, 0, 1)).astype(int)
    else:
        y = effect * t + base + rng.normal(size=n)
    pre = 0.8 * x1 + 0.5 * x2 + rng.normal(scale=0.5, size=n)
    frame = pd.DataFrame({"t": t, "y": y, "x1": x1, "x2": x2, "x3": x3, "group": group, "pre": pre})
    contract = CONTRACT if not binary else Contract(**{**CONTRACT.__dict__, "outcome_type": OutcomeType.BINARY})
    return frame, contract


@pytest.fixture(scope="module")
def sim():
    frame, contract = simulate()
    data = prepare(frame, contract, contract.controls)
    return frame, contract, data, fit_dr(data, FAST)


def test_prepare_encodes_only_the_chosen_covariates(sim) -> None:
    frame, contract, data, _ = sim
    assert data.names == ("x1", "x2", "x3", "group=b", "group=c")
    assert data.W.shape == (len(frame), 5)
    only = prepare(frame, contract, ("x2",))
    assert only.names == ("x2",)
    placebo = prepare(frame, contract, ("x2",), outcome="pre")
    assert placebo.outcome == "pre" and np.array_equal(placebo.y, frame["pre"].to_numpy())


def test_ate_recovers_the_known_effect(sim) -> None:
    *_, fit = sim
    est = estimate_effect(fit, Estimand.ATE)
    assert est.estimand == "ATE" and est.n == est.n_total == 1200
    assert est.covers(EFFECT)
    assert est.ci_high - est.ci_low < 0.6
    assert est.n_treated + est.n_control == est.n


def test_ate_equals_econml_linear_dr_learner(sim) -> None:
    """Our AIPW score mean is LinearDRLearner's ATE and HC0 interval, to numerical precision."""
    *_, fit = sim
    est = estimate_effect(fit, Estimand.ATE)
    low, high = fit.learner.ate_interval(alpha=0.05)
    assert est.effect == pytest.approx(float(fit.learner.ate()), rel=1e-9)
    # the sampling interval is EconML's; the extrapolation allowance (none here) widens it on each side
    assert est.effect - Z95 * est.se == pytest.approx(float(low), rel=1e-6)
    assert est.effect + Z95 * est.se == pytest.approx(float(high), rel=1e-6)
    assert est.ci_low == pytest.approx(float(low) - est.allowance, rel=1e-9)
    assert est.allowance == 0.0


def unsupported_tail(n: int = 3000, seed: int = 3):
    """Units with x1 above its 85th percentile are never treated, and their effect is 1.5 higher.

    The ATE needs their treated outcome, which nobody observed: the outcome model extrapolates it
    from the effect elsewhere (which varies with x2, sd 2) and misses the shift. The shift is within
    the spread of the effects the data do show, which is what the allowance assumes. The ATT does
    not need the tail's treated outcome.
    """
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=(2, n))
    tail = x1 > np.quantile(x1, 0.85)
    e = np.where(tail, 0.0, 1 / (1 + np.exp(-(0.5 * x2))))
    t = (rng.random(n) < e).astype(int)
    tau = 1.0 + 2.0 * x2 + 1.5 * tail
    y = x1 + x2 + tau * t + rng.normal(scale=0.5, size=n)
    frame = pd.DataFrame({"t": t, "y": y, "x1": x1, "x2": x2})
    contract = Contract("t", "y", OutcomeType.CONTINUOUS, Estimand.ATE, ("x1", "x2"))
    return prepare(frame, contract, ("x1", "x2")), tail, tau


def test_units_without_a_treated_counterpart_widen_the_ate_interval() -> None:
    data, tail, tau = unsupported_tail()
    boosting = OutcomeLearner.GRADIENT_BOOSTING
    fit = fit_dr(data, FAST.with_(propensity_learner=PropensityLearner.GRADIENT_BOOSTING, outcome_learner=boosting))
    ate = estimate_effect(fit, Estimand.ATE)
    # the calibrated propensity finds the never-treated tail the boosting propensity smooths over
    assert ate.unsupported_share == pytest.approx(tail.mean(), abs=0.03)
    assert ate.allowance > 0.1
    assert ate.ci_high - ate.ci_low == pytest.approx(2 * (Z95 * ate.se + ate.allowance))
    assert "15%" in ate.describe() and "extrapolates" in ate.describe()
    # the guessed tail is what the sampling interval alone misses; the allowance is there for it
    truth = float(tau.mean())
    assert abs(ate.effect - truth) > Z95 * ate.se, "the planted tail no longer biases the ATE: the test is moot"
    assert ate.covers(truth)
    # every treated unit has controls like it: the ATT needs no extrapolation
    att = estimate_effect(fit, Estimand.ATT)
    assert att.allowance == 0.0 and att.unsupported_share == 0.0
    # trimming the tail away (relabelled ATO) removes what needed the allowance
    trimmed = estimate_effect(fit, Estimand.ATE, fit.keep(0.05, 0.95))
    assert trimmed.allowance < ate.allowance / 4


def test_att_and_ato_recover_a_constant_effect(sim) -> None:
    *_, fit = sim
    for estimand in (Estimand.ATT, Estimand.ATO):
        est = estimate_effect(fit, estimand)
        assert est.estimand == estimand.value
        assert est.covers(EFFECT), est


def test_trimming_relabels_ate_as_ato_and_reports_the_population(sim) -> None:
    *_, fit = sim
    keep = fit.keep(0.1, 0.9)
    dropped = int((~keep).sum())
    assert dropped > 0
    est = estimate_effect(fit, Estimand.ATE, keep)
    assert est.estimand == "ATO" and est.requested == "ATE"
    assert est.n == 1200 - dropped and est.n_dropped == dropped
    assert est.covers(EFFECT)
    assert estimate_effect(fit, Estimand.ATT, keep).estimand == "ATT-trimmed"
    assert estimand_label(Estimand.ATE, 0) == "ATE"


def test_trimming_everything_from_one_arm_is_a_spec_error(sim) -> None:
    *_, fit = sim
    with pytest.raises(SpecError, match="widen the trimming bounds"):
        estimate_effect(fit, Estimand.ATE, fit.data.t == 1)


def test_effect_heterogeneity_separates_att_from_ate() -> None:
    rng = np.random.default_rng(5)
    n = 2000
    x1 = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-1.2 * x1))).astype(int)
    tau = 1.0 + 1.0 * x1  # treated units have larger x1, so ATT > ATE = 1
    y = tau * t + x1 + rng.normal(size=n)
    frame = pd.DataFrame({"t": t, "y": y, "x1": x1})
    contract = Contract("t", "y", OutcomeType.CONTINUOUS, Estimand.ATE, ("x1",))
    data = prepare(frame, contract, ("x1",))
    spec = FAST.with_(outcome_learner=OutcomeLearner.GRADIENT_BOOSTING)
    fit = fit_dr(data, spec)
    ate, att = estimate_effect(fit, Estimand.ATE), estimate_effect(fit, Estimand.ATT)
    true_att = float(tau[t == 1].mean())
    assert ate.covers(1.0)
    assert att.covers(true_att)
    assert att.effect > ate.effect + 0.3


def test_dr_estimator_uses_drlearner_population_average(sim) -> None:
    frame, contract, data, _ = sim
    est, fit = dr_estimate(data, FAST.with_(estimator=Estimator.DR))
    assert type(fit.learner).__name__ == "DRLearner"
    assert "DRLearner" in est.method
    assert est.covers(EFFECT)
    assert estimate_effect(fit, Estimand.ATT).covers(EFFECT)


@pytest.mark.parametrize("learner", list(OutcomeLearner))
def test_every_learner_fits_without_warnings(sim, learner) -> None:
    *_, data, _ = sim
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # explicit models: no 'auto' FutureWarning, no ignored-cv warning
        est, _ = dr_estimate(
            data, FAST.with_(outcome_learner=learner, propensity_learner=PropensityLearner.RANDOM_FOREST)
        )
    assert est.covers(EFFECT), (learner, est)


def test_binary_outcome_uses_a_classifier_without_warnings() -> None:
    frame, contract = simulate(n=1500, seed=3, effect=0.1, binary=True)
    data = prepare(frame, contract, contract.controls)
    assert data.discrete_outcome
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no FutureWarning from 'auto' models, no DataConversionWarning
        for learner in (OutcomeLearner.LINEAR, OutcomeLearner.GRADIENT_BOOSTING):
            est, fit = dr_estimate(data, FAST.with_(outcome_learner=learner))
            assert 0.0 <= fit.m0.min() and fit.m1.max() <= 1.0  # probabilities, so a classifier
            assert est.covers(0.1), (learner, est)


def test_too_few_units_for_the_folds() -> None:
    frame, contract = simulate(n=60, seed=2)
    data = prepare(frame, contract, contract.controls)
    with pytest.raises(SpecError, match="lower folds"):
        fit_dr(data, FAST.with_(folds=10))
