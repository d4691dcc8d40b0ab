"""The offline critic of the model loop: credibility from convergence, PSIS-LOO and triangulation."""

from __future__ import annotations

from dataclasses import replace

from fixtures.tui_data import design_fixture

from engine.design.results import DREstimate
from engine.iteration import IterationRecord, latest_dr_estimate
from engine.model_critic import review_model
from engine.problem import Contract, Estimand, OutcomeType
from engine.records import Decision, DecisionKind, Effect, GateResult, Loop, Metrics, Proposal, Verdict, VerdictKind

CONTRACT = Contract("t", "y", OutcomeType.CONTINUOUS, Estimand.ATE, ("x1", "x2"))


def _record(kind=VerdictKind.KEPT, effect=Effect("ATE", 4.0, 0.1, 3.8, 4.2), pareto_bad=0, gates=()) -> IterationRecord:
    proposal = Proposal(Loop.MODEL, "h", "r", "a", "b", "heuristic")
    metrics = Metrics(elpd=-100.0, elpd_se=5.0, pareto_k_bad=pareto_bad, pareto_k_max=0.5, effect=effect)
    return IterationRecord(
        1, proposal, (), None, Decision(DecisionKind.APPROVED, "principal"), Verdict(kind, "x", metrics, gates)
    )


def _dr(effect: float, low: float, high: float) -> DREstimate:
    return DREstimate("ATE", "ATE", effect, (high - low) / 3.92, low, high, 100, 100, 40, 60, "DR")


def test_agreeing_converged_model_is_highly_credible() -> None:
    review = review_model(_record().verdict, CONTRACT, _dr(4.05, 3.7, 4.4))
    assert review.credibility == "high" and review.triangulation.level == "agree"
    assert "over all units" in review.estimand_note


def test_conflict_with_the_dr_estimate_is_low_and_loud() -> None:
    review = review_model(_record().verdict, CONTRACT, _dr(5.2, 4.9, 5.5))
    assert review.credibility == "low"
    assert "CONFLICT" in review.triangulation.message


def test_untriangulated_or_high_pareto_k_is_medium() -> None:
    assert review_model(_record().verdict, CONTRACT, None).credibility == "medium"
    review = review_model(_record(pareto_bad=3).verdict, CONTRACT, _dr(4.0, 3.7, 4.3))
    assert review.credibility == "medium" and "3 observation(s)" in review.reasons[0]


def test_failed_gate_is_low_and_crash_gets_no_review() -> None:
    failed = _record(VerdictKind.FAILED_GATE, gates=(GateResult("rhat", 1.05, 1.01, False),))
    review = review_model(failed.verdict, CONTRACT, _dr(4.0, 3.7, 4.3))
    assert review.credibility == "low" and "rhat" in review.reasons[0]
    assert review_model(_record(VerdictKind.CRASHED, effect=None).verdict, CONTRACT, None) is None


def test_latest_dr_estimate_prefers_the_kept_design() -> None:
    def design(number: int, kind: VerdictKind, effect: float) -> IterationRecord:
        proposal = Proposal(Loop.DESIGN, "h", "r", "a", "b", "heuristic")
        return IterationRecord(
            number,
            proposal,
            (),
            None,
            Decision(DecisionKind.APPROVED, "principal"),
            Verdict(kind, "x"),
            design=replace(design_fixture()[0], estimate=_dr(effect, effect - 0.3, effect + 0.3)),
        )

    records = [_record(), design(2, VerdictKind.KEPT, 4.1), design(3, VerdictKind.DISCARDED, 9.9)]
    assert latest_dr_estimate(records).effect == 4.1
    assert latest_dr_estimate([_record()]) is None
