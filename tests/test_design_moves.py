"""The offline agent's design moves: a pure function of contract, spec, last result and history."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_design_critic import SPEC, clean
from test_design_estimate import simulate

from engine.design.moves import next_design_move
from engine.design.results import Status
from engine.design.run import DesignSettings, run_design
from engine.design.spec import PropensityLearner, edit_spec, parse_spec, render_spec
from engine.problem import Estimand


@pytest.fixture(scope="module")
def base():
    frame, contract = simulate(n=1200, seed=31)
    result = run_design(SPEC, (frame, contract), settings=DesignSettings(subset_repeats=1))
    return contract, clean(result)


def test_before_any_run_it_tightens_covariates_then_adds_a_placebo(base) -> None:
    contract, _ = base
    narrow = SPEC.with_(covariates=("x1", "x2"), placebo_outcomes=())
    move = next_design_move(contract, narrow, None)
    assert move.move == "covariates-all"
    written = edit_spec(render_spec(narrow), move.spec, contract)  # as the agent writes it into the file
    assert parse_spec(written, contract) == move.spec == narrow.with_(covariates=None)
    after = next_design_move(contract, narrow, None, history=["covariates-all"])
    # A pre-treatment column outside the adjustment set is the cheapest placebo outcome.
    assert after.move == "placebo-pre" and after.spec.placebo_outcomes == ("pre",)
    assert after.hypothesis and after.rationale


def test_failed_overlap_clips_then_trims_then_tries_overlap_weights(base) -> None:
    contract, result = base
    bad = replace(result, overlap=replace(result.overlap, status=Status.FAIL, share_outside=0.3))
    clip = next_design_move(contract, SPEC, bad)
    assert clip.move == "clip-0.05" and clip.spec.min_propensity == 0.05 and clip.spec.estimand is SPEC.estimand
    assert clip.hypothesis.startswith("Answers the overlap gate")
    move = next_design_move(contract, SPEC, bad, history=["clip-0.05"])
    assert move.move == "trim-0.1-0.9"
    assert move.spec.trim == (0.1, 0.9)
    written = edit_spec(render_spec(SPEC, "Design-based analysis of a test"), move.spec, contract)
    assert "trim = [0.1, 0.9]" in written and written.startswith("# Design-based analysis of a test")
    assert "ATO" in move.rationale
    rejected = next_design_move(contract, SPEC, bad, history=["clip-0.05", ("trim-0.1-0.9", "rejected")])
    assert rejected.move == "estimand-ATO" and rejected.spec.estimand is Estimand.ATO


def test_a_failed_sanity_net_is_answered_first_and_named_in_each_hypothesis(base) -> None:
    contract, result = base
    bad = replace(result, sanity=replace(result.sanity, status=Status.FAIL, credible=False, message="Not credible: x"))
    tried: list[str] = []
    moves = []
    for _ in range(4):
        move = next_design_move(contract, SPEC, bad, history=tried)
        moves.append(move)
        tried.append(move.move)
    assert [m.move for m in moves[:2]] == ["clip-0.05", "propensity-gradient_boosting"]
    assert "estimand-ATO" in tried
    assert all(m.hypothesis.startswith("Answers the sanity gate") for m in moves[:3]), [m.hypothesis for m in moves]
    assert all(m.hypothesis.lower().count("answers the") == 1 for m in moves), [m.hypothesis for m in moves]


def test_a_failed_trimming_gate_moves_to_overlap_weights_and_says_so(base) -> None:
    contract, result = base
    assert result.trimming is not None
    bad = replace(result, trimming=replace(result.trimming, status=Status.FAIL, message="moves 3.1 standard errors"))
    move = next_design_move(contract, SPEC, bad)
    assert move.move == "estimand-ATO" and move.spec.estimand is Estimand.ATO
    assert move.hypothesis.startswith("Answers the trimming gate") and "ATO" in move.hypothesis
    assert "moves 3.1 standard errors" in move.rationale
    # Already on overlap weights there is nothing left for this gate: the agent goes on to other moves.
    on_ato = SPEC.with_(estimand=Estimand.ATO)
    assert next_design_move(contract, on_ato, bad).move != "estimand-ATO"


def test_failed_balance_switches_the_propensity_learner(base) -> None:
    contract, result = base
    bad = replace(result, balance=replace(result.balance, status=Status.FAIL, max_after=0.31))
    move = next_design_move(contract, SPEC, bad)
    assert move.move == "propensity-gradient_boosting"
    assert move.spec.propensity_learner is PropensityLearner.GRADIENT_BOOSTING
    assert "0.31" in move.hypothesis
    second = next_design_move(contract, SPEC, bad, history=["propensity-gradient_boosting"])
    assert second.move == "propensity-random_forest"
    # Switching is forward only: from gradient boosting the agent never proposes going back to logistic.
    on_gb = SPEC.with_(propensity_learner=PropensityLearner.GRADIENT_BOOSTING)
    assert next_design_move(contract, on_gb, bad).move == "propensity-random_forest"
    assert next_design_move(contract, on_gb, bad, ["propensity-random_forest"]).move != "propensity-logistic"


def test_balance_fail_comes_before_the_placebo_and_a_warning_after(base) -> None:
    contract, result = base
    spec = SPEC.with_(placebo_outcomes=())
    failing = replace(result, balance=replace(result.balance, status=Status.FAIL))
    assert next_design_move(contract, spec, failing).move.startswith("propensity-")
    warning = replace(result, balance=replace(result.balance, status=Status.WARN))
    assert next_design_move(contract, spec, warning).move == "placebo-pre"
    assert next_design_move(contract, spec, warning, ["placebo-pre"]).move.startswith("propensity-")


def test_failed_refuter_switches_the_outcome_learner(base) -> None:
    contract, result = base
    refuters = (replace(result.refuters[0], passed=False),) + result.refuters[1:]
    move = next_design_move(contract, SPEC, replace(result, refuters=refuters))
    assert move.move == "outcome-lasso"  # from linear, the next more flexible learner
    assert move.spec.outcome_learner is not SPEC.outcome_learner
    assert result.refuters[0].name in move.hypothesis


def test_a_clean_result_still_offers_robustness_checks_then_stops(base) -> None:
    contract, result = base
    spec = SPEC.with_(folds=5)
    seen: list[str] = []
    for _ in range(20):
        move = next_design_move(contract, spec, result, history=seen)
        if move is None:
            break
        assert move.move not in seen  # never repeats a tried or rejected move
        assert move.spec != spec
        seen.append(move.move)
    else:
        pytest.fail("moves never ran out")
    assert seen[0].startswith("outcome-")  # nothing failed: check the answer survives another learner
    assert "estimator-dr" in seen
    # With 3 folds, raising them to 5 comes first.
    assert next_design_move(contract, SPEC, result).move == "folds-5"


def test_placebo_is_not_proposed_when_one_is_set(base) -> None:
    contract, result = base
    moves = []
    history: list[str] = []
    while (move := next_design_move(contract, SPEC, result, history)) is not None:
        moves.append(move.move)
        history.append(move.move)
    assert not any(m.startswith("placebo-") for m in moves)
