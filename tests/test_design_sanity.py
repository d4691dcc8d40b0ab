"""Issue 14's regression tests: the default analysis on an ACIC simulation, and the sanity net on a planted blow-up."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_design_estimate import FAST, simulate

from engine.design.estimate import estimate_effect, fit_dr, prepare
from engine.design.sanity import sanity_check
from engine.design.spec import AnalysisSpec, PropensityLearner, load_spec
from engine.problem import Estimand
from engine.problem_load import load_problem

ACIC = Path(__file__).resolve().parents[1] / "problems" / "acic2016"


@pytest.mark.slow  # 70–100 s on 2 cores: the default analysis on 4,802 units and 58 covariates
def test_default_analysis_gets_the_acic_att_within_half_a_unit() -> None:
    """The shipped default (auto propensity, clipped weights) on ACIC 2016 simulation 6, ATT."""
    problem = load_problem(ACIC)
    spec = load_spec(ACIC, problem.contract).with_(estimand=Estimand.ATT)
    assert spec.propensity_learner is PropensityLearner.AUTO and spec.min_propensity == 0.01
    data = prepare(problem.data, problem.contract, spec.resolved_covariates(problem.contract))
    fit = fit_dr(data, spec)
    estimate = estimate_effect(fit, Estimand.ATT)
    truth = json.loads((ACIC / "truth.json").read_text())["att"]
    assert abs(estimate.effect - truth) < 0.5, (estimate.describe(), truth)
    assert fit.choice is not None and fit.choice.chosen in {c.learner for c in fit.choice.candidates}
    check = sanity_check(fit, estimate, np.ones(data.n, dtype=bool), Estimand.ATT)
    assert check.credible, check.message


def planted(extreme: bool):
    """Confounded data; with ``extreme``, a region where nearly everyone is treated and its few controls are outliers."""
    frame, contract = simulate(n=3000, seed=11)
    if extreme:
        region = frame["x1"] > 1.0
        rng = np.random.default_rng(3)
        frame.loc[region, "t"] = (rng.random(int(region.sum())) < 0.98).astype(int)
        frame.loc[region & (frame["t"] == 0), "y"] += 400.0  # the region's few controls: outliers with huge weights
    return frame, contract


@pytest.mark.parametrize("extreme", [False, True])
def test_a_planted_extreme_propensity_region_is_rated_not_credible(extreme: bool) -> None:
    frame, contract = planted(extreme)
    spec = FAST.with_(estimand=Estimand.ATT, min_propensity=AnalysisSpec().min_propensity)
    data = prepare(frame, contract, contract.controls)
    fit = fit_dr(data, spec)
    estimate = estimate_effect(fit, Estimand.ATT)
    check = sanity_check(fit, estimate, np.ones(data.n, dtype=bool), Estimand.ATT)
    assert check.credible is not extreme, check.message
    if extreme:
        assert check.message.startswith("Not credible") and "min_propensity" in check.message


def test_the_critic_the_verdict_and_the_home_row_say_not_credible() -> None:
    """A design run on the planted data: the sanity gate fails; the critic's headline and the iteration row say so."""
    from dataclasses import replace

    from engine.design.critic import Tier, critique
    from engine.design.run import DesignSettings, run_design
    from engine.design.verdict import design_verdict
    from engine.records import VerdictKind

    frame, contract = planted(True)
    spec = FAST.with_(estimand=Estimand.ATT, min_propensity=0.01)
    result = run_design(
        spec, (frame, replace(contract, estimand=Estimand.ATT)), settings=DesignSettings(refuters=(), sensitivity=False)
    )
    review = critique(replace(contract, estimand=Estimand.ATT), spec, result)
    assert result.gate_failures()[0] == "sanity"
    assert review.tier is Tier.NOT_SATISFACTORY and review.headline.startswith("not credible")
    assert design_verdict(result, review, None).kind is VerdictKind.FAILED_GATE
    from fixtures.tui_data import design_record

    from screens.format import record_effect_text

    shown = replace(design_record(3), design=result, critique=review)
    assert str(record_effect_text(shown)) == "not credible"
    assert str(record_effect_text(design_record(3))).startswith("A")  # a credible run shows its number
