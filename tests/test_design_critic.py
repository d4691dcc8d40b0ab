"""The rule-based critic: tiers, estimand notes, target trial, blind spots, alternatives, triangulation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from test_design_estimate import FAST, simulate

from engine.design.critic import Tier, critique, critique_markdown, triangulate
from engine.design.results import DataFacts, DesignResult, DREstimate, PopulationShift, Status
from engine.design.run import DesignSettings, run_design
from engine.records import Effect

SPEC = FAST.with_(placebo_outcomes=("pre",))
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def base():
    """A real run on simulated data, then forced to all-pass so each test changes one thing."""
    frame, contract = simulate(n=1500, seed=21)
    settings = DesignSettings(subset_repeats=1)
    result = run_design(SPEC, (frame, contract), settings=settings)
    result = clean(result)
    return contract, result


def clean(result: DesignResult) -> DesignResult:
    """Every diagnostic passing, no omitted columns: the fully satisfactory baseline."""
    return replace(
        result,
        balance=replace(result.balance, status=Status.PASS),
        overlap=replace(result.overlap, status=Status.PASS, share_outside=0.01),
        trimming=replace(result.trimming, status=Status.PASS),
        placebo=tuple(replace(p, status=Status.PASS) for p in result.placebo),
        refuters=tuple(replace(r, passed=True) for r in result.refuters),
        sensitivity=replace(result.sensitivity, status=Status.PASS),
        columns=tuple(c for c in result.columns if c.in_covariates or c.name in SPEC.placebo_outcomes),
        facts=DataFacts(),
    )


def test_the_real_run_is_sound_before_cleaning() -> None:
    frame, contract = simulate(n=1500, seed=21)
    result = run_design(SPEC, (frame, contract), settings=DesignSettings(refuters=(), sensitivity=False))
    assert result.balance.status is Status.PASS
    assert result.placebo[0].status is Status.PASS


def test_all_passing_is_fully_satisfactory(base) -> None:
    contract, result = base
    c = critique(contract, SPEC, result)
    assert c.tier is Tier.FULLY_SATISFACTORY
    assert c.credibility == "high"
    assert "balance" in c.decided_by and "refuter:placebo_treatment" in c.decided_by
    assert "answers the contract's question" in c.estimand_note


def test_a_failed_diagnostic_is_not_satisfactory(base) -> None:
    contract, result = base
    bad = replace(result, balance=replace(result.balance, status=Status.FAIL, message="imbalanced"))
    c = critique(contract, SPEC, bad)
    assert c.tier is Tier.NOT_SATISFACTORY and c.credibility == "low"
    assert c.decided_by == ("balance",)
    assert c.reasons == ("imbalanced",)
    assert "Not credible yet" in c.summary


def test_a_failed_refuter_is_not_satisfactory(base) -> None:
    contract, result = base
    refuters = (replace(result.refuters[0], passed=False),) + result.refuters[1:]
    c = critique(contract, SPEC, replace(result, refuters=refuters))
    assert c.tier is Tier.NOT_SATISFACTORY
    assert c.decided_by == (f"refuter:{result.refuters[0].name}",)


def test_a_warning_gives_caveats(base) -> None:
    contract, result = base
    c = critique(contract, SPEC, replace(result, sensitivity=replace(result.sensitivity, status=Status.WARN)))
    assert c.tier is Tier.SATISFACTORY_WITH_CAVEATS and c.credibility == "medium"
    assert c.decided_by == ("sensitivity",)


def test_no_placebo_is_a_caveat(base) -> None:
    contract, result = base
    spec = SPEC.with_(placebo_outcomes=())
    c = critique(contract, spec, replace(result, placebo=(), spec=spec))
    assert c.tier is Tier.SATISFACTORY_WITH_CAVEATS
    assert "placebo:none" in c.decided_by
    assert any("No placebo outcome" in s for s in c.target_trial.shortfalls)


def test_trimming_changes_the_estimand_and_the_critic_says_so(base) -> None:
    contract, result = base
    spec = SPEC.with_(trim=(0.1, 0.9))
    est = replace(result.estimate, estimand="ATO", n=1200)
    older = PopulationShift("x1", "", 0.02, 0.41, 0.39)
    c = critique(contract, spec, replace(result, estimate=est, spec=spec, population=(older,)))
    assert c.tier is Tier.SATISFACTORY_WITH_CAVEATS
    # who the 1200 are, in the columns that moved
    assert "against all 1500 units, the ATO's population has x1 mean 0.41 against 0.02 (+0.39 sd)." in c.estimand_note
    assert "estimand" in c.decided_by
    assert "dropped 300 of 1500 units (20%)" in c.estimand_note
    assert "the estimate is the ATO" in c.estimand_note and "not the ATE over all 1500" in c.estimand_note
    assert "1200 of 1500 units whose estimated propensity lies in [0.1, 0.9]" in c.target_trial.eligibility
    assert any("no trial could use" in s for s in c.target_trial.shortfalls)


def test_a_different_estimand_from_the_contract_is_noted(base) -> None:
    contract, result = base
    from engine.problem import Estimand

    spec = SPEC.with_(estimand=Estimand.ATT)
    c = critique(contract, spec, replace(result, spec=spec, estimate=replace(result.estimate, estimand="ATT")))
    assert "contract asks for the ATE, but the spec estimates the ATT" in c.estimand_note
    assert "ATT" in c.target_trial.causal_contrast


def test_target_trial_names_its_parts(base) -> None:
    contract, result = base
    c = critique(contract, SPEC, result, question="Does t raise y?")
    tt = c.target_trial
    assert "Does t raise y?" in tt.eligibility
    assert "t = 1 versus t = 0" in tt.treatment_strategies
    assert "randomised" in tt.assignment and "x1" in tt.assignment
    assert tt.outcome.startswith("y (continuous)")
    assert tt.follow_up and "ATE" in tt.causal_contrast
    assert "conditional exchangeability" in tt.shortfalls[0]
    assert any("post" in s for s in tt.shortfalls)  # the forbidden post-treatment column


def test_poor_overlap_is_a_positivity_shortfall(base) -> None:
    contract, result = base
    c = critique(contract, SPEC, replace(result, overlap=replace(result.overlap, share_outside=0.3)))
    assert any(s.startswith("Positivity: 30%") for s in c.target_trial.shortfalls)


def test_blind_spots_flag_an_omitted_predictor_of_treatment(base) -> None:
    contract, result = base
    frame, _ = simulate(n=1500, seed=21)
    spec = SPEC.with_(covariates=("x2", "x3", "group"))  # x1, the main confounder, left out
    narrow = run_design(spec, (frame, contract), settings=DesignSettings(refuters=(), sensitivity=False))
    c = critique(contract, spec, narrow)
    assert any(s.startswith("x1 is an allowed control left out") and "still differ" in s for s in c.blind_spots)
    assert "blind-spot" in c.decided_by or c.tier is Tier.NOT_SATISFACTORY
    assert any("Tempting but forbidden: post (post-treatment)" in s for s in c.blind_spots)


def test_alternatives_follow_the_data(base) -> None:
    contract, result = base
    assert critique(contract, SPEC, result).alternatives  # at least one, always
    facts = DataFacts(lagged_outcomes=("y_last_year",), thresholds=(("score", 50.0, 0.8),), instruments=("distance",))
    alts = critique(contract, SPEC, replace(result, facts=facts)).alternatives
    assert any(a.startswith("Difference-in-differences with pre-period outcomes (y_last_year)") for a in alts)
    assert any(a.startswith("Regression discontinuity at score = 50") for a in alts)
    assert any(a.startswith("Instrumental variables with distance") for a in alts)


def _dr(effect: float, lo: float, hi: float, estimand: str = "ATE") -> DREstimate:
    return DREstimate(estimand, "ATE", effect, (hi - lo) / 3.92, lo, hi, 747, 747, 139, 608, "test")


def test_triangulation_levels() -> None:
    agree = triangulate(_dr(4.0, 3.6, 4.4), Effect("ATE", 4.1, 0.1, 3.9, 4.3))
    assert agree.level == "agree" and not agree.loud
    disagree = triangulate(_dr(4.0, 3.4, 4.6), Effect("ATE", 4.35, 0.1, 4.15, 4.55))
    assert disagree.level == "disagree" and disagree.loud  # gap 0.35 > the Bayesian half-width 0.2
    conflict = triangulate(_dr(4.66, 4.3, 5.0), Effect("ATE", 3.97, 0.11, 3.74, 4.19))
    assert conflict.level == "conflict" and conflict.overlap == 0.0
    assert "CONFLICT" in conflict.message and "heavy-tailed" in conflict.message
    barely = triangulate(_dr(4.5, 4.18, 4.82), Effect("ATE", 3.97, 0.11, 3.74, 4.2))
    assert barely.level == "conflict" and "barely overlap" in barely.message
    mismatch = triangulate(_dr(4.0, 3.6, 4.4, "ATO"), Effect("ATE", 4.1, 0.1, 3.9, 4.3))
    assert "estimands differ" in mismatch.message


def test_triangulation_is_loud_in_the_critique(base) -> None:
    contract, result = base
    est = result.estimate
    far = Effect("ATE", est.effect + 10 * est.se, est.se, est.effect + 8 * est.se, est.effect + 12 * est.se)
    c = critique(contract, SPEC, result, far)
    assert c.triangulation is not None and c.triangulation.level == "conflict"
    assert c.tier is Tier.SATISFACTORY_WITH_CAVEATS and "triangulation" in c.decided_by
    assert "LOUD" in c.summary
    md = critique_markdown(c)
    assert "**⚠ Triangulation.** THE ESTIMATES CONFLICT" in md
    # The effect stored in the result is used when none is passed.
    assert critique(contract, SPEC, replace(result, bayesian_effect=far)).triangulation.level == "conflict"


def test_markdown_has_every_section(base) -> None:
    contract, result = base
    md = critique_markdown(critique(contract, SPEC, result))
    for heading in (
        "## Critic: fully satisfactory (credibility high)",
        "### What decided it",
        "### Estimand",
        "### The target trial",
        "**Eligibility:**",
        "Where the emulation falls short:",
        "### Blind spots",
        "### Alternative measurement strategies",
    ):
        assert heading in md


@pytest.fixture(scope="module")
def retention():
    from engine.design.spec import load_spec
    from engine.problem_load import load_problem

    problem = load_problem(ROOT / "problems" / "retention_email")
    spec = load_spec(problem.path, problem.contract)
    result = run_design(spec, problem, settings=DesignSettings(refuters=(), sensitivity=False, trim_thresholds=()))
    return problem, spec, result


def test_a_randomised_column_is_never_offered_as_a_negative_control(retention) -> None:
    from engine.design.critic import NEGATIVE_CONTROL_MIN_SMD, negative_control
    from engine.design.moves import next_design_move

    problem, shipped, result = retention
    facts = {f.name: f for f in result.columns}
    assert facts["wave"].smd_treatment < NEGATIVE_CONTROL_MIN_SMD <= facts["renewed_last_cycle"].smd_treatment
    # The shipped spec tests renewed_last_cycle already; the randomised wave is not offered next.
    assert shipped.placebo_outcomes == ("renewed_last_cycle",)
    assert negative_control(problem.contract, shipped, result) not in (None, "wave", "renewed_last_cycle")
    assert "on wave" not in " ".join(critique(problem, shipped, result).alternatives)
    # Without a placebo outcome, the critic and the offline agent's move both offer the lagged outcome.
    bare = shipped.with_(placebo_outcomes=())
    assert negative_control(problem.contract, bare, result) == "renewed_last_cycle"
    assert "'effect' on renewed_last_cycle" in " ".join(critique(problem, bare, result).alternatives)
    move = next_design_move(problem.contract, bare, result)
    assert move is not None and move.move == "placebo-renewed_last_cycle"
    # Had wave's arms differed, it would be offered first: the rule is the association, not the name.
    columns = tuple(replace(f, smd_treatment=0.3) if f.name == "wave" else f for f in result.columns)
    assert negative_control(problem.contract, shipped, replace(result, columns=columns)) == "wave"
