"""The design loop on the shipped problems: NHEFS, the retention email, ACIC 2016, IHDP."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import PROBLEMS

from engine.design.critic import Tier, critique, critique_markdown
from engine.design.diagnostics import balance
from engine.design.estimate import dr_estimate, prepare
from engine.design.results import Status
from engine.design.run import DesignSettings, run_design, trimming_series
from engine.design.spec import load_spec
from engine.problem_load import load_problem


@pytest.fixture(scope="module")
def nhefs():
    return load_problem(PROBLEMS / "nhefs")


@pytest.fixture(scope="module")
def retention():
    return load_problem(PROBLEMS / "retention_email")


def test_nhefs_dr_estimate_is_in_the_published_range(nhefs) -> None:
    """Hernán & Robins (What If, ch. 12–13): quitting smoking adds about 3.5 kg (IPW 3.4, standardisation 3.5)."""
    spec = load_spec(nhefs.path, nhefs.contract)
    data = prepare(nhefs.data, nhefs.contract, spec.resolved_covariates(nhefs.contract))
    est, _ = dr_estimate(data, spec)
    assert est.estimand == "ATE" and est.n == 1566
    assert 2.5 <= est.effect <= 4.5, est.describe()
    assert est.ci_low > 0


def test_retention_email_balance_fails_before_weighting_and_passes_after(retention) -> None:
    spec = load_spec(retention.path, retention.contract).with_(folds=3)
    data = prepare(retention.data, retention.contract, spec.resolved_covariates(retention.contract))
    assert data.discrete_outcome  # renewed_30d is binary: a classifier outcome model
    est, fit = dr_estimate(data, spec)
    result = balance(data, fit.e, np.ones(data.n, dtype=bool), spec.estimand)
    assert result.status_before is Status.FAIL and result.max_before >= 0.2, result.max_before
    assert result.status is Status.PASS and result.max_after < 0.1, result.message
    assert -0.05 < est.effect < 0.15  # a risk difference; the synthetic truth is about 0.05


@pytest.mark.slow  # 35 s on 2 cores; the other problems' design runs stay in the default suite
def test_acic2016_produces_the_trimming_curve_and_the_critic() -> None:
    acic = load_problem(PROBLEMS / "acic2016")
    spec = load_spec(acic.path, acic.contract).with_(folds=2)
    result = run_design(spec, acic, settings=DesignSettings(refuters=(), placebo=False))
    curve = trimming_series(result.trimming)
    assert len(curve.thresholds) >= 7
    assert curve.n == sorted(curve.n, reverse=True)
    assert curve.labels[0] == "ATE" and "ATO" in curve.labels
    review = critique(acic, spec, result)
    assert review.tier in set(Tier)
    assert review.alternatives and review.target_trial.shortfalls
    assert "## Critic:" in critique_markdown(review)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ihdp", "nhefs", "retention_email", "lalonde", "acic2016"])
def test_full_design_run_on_every_problem(name: str) -> None:
    problem = load_problem(PROBLEMS / name)
    spec = load_spec(problem.path, problem.contract)
    result = run_design(spec, problem, settings=DesignSettings(subset_repeats=2))
    assert len(result.refuters) == 4
    assert result.sensitivity is not None
    review = critique(problem, spec, result)
    assert review.summary
    if name == "ihdp":
        assert result.overlap.status is Status.FAIL
        assert review.tier is Tier.NOT_SATISFACTORY
