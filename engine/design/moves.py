"""The offline agent's design moves: the next change to ``analysis.toml``, chosen by rule.

:func:`next_design_move` is a pure function of the contract, the current spec, the last
:class:`DesignResult` and the history of moves already tried. It returns the next move
as a whole new spec text (the agent diffs it against the old file) with a hypothesis
and a rationale, or ``None`` when it has nothing left to try. The rules follow the
analyst's playbook: fix omitted confounders first; when the sanity net fails, clip the
propensities, switch the propensity learner or move to overlap weights; clip or trim when overlap fails, switch the
propensity learner when balance fails, add a placebo outcome when none is set, switch the
outcome learner when a refuter or placebo fails, then robustness checks (another outcome
learner, the other estimator). Learners are switched forward only (logistic → gradient
boosting → random forest), so the agent never cycles back to where it started. A move in the history (tried,
rejected, crashed — any outcome) is never proposed again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.design.critic import negative_control, omitted_confounders
from engine.design.results import DesignResult, Status
from engine.design.spec import AnalysisSpec, Estimator, OutcomeLearner, PropensityLearner
from engine.problem import Contract, Estimand

PROPENSITY_ORDER = (PropensityLearner.LOGISTIC, PropensityLearner.GRADIENT_BOOSTING, PropensityLearner.RANDOM_FOREST)
OUTCOME_ORDER = (  # from rigid to flexible
    OutcomeLearner.LINEAR,
    OutcomeLearner.LASSO,
    OutcomeLearner.GRADIENT_BOOSTING,
    OutcomeLearner.RANDOM_FOREST,
)
CROSS_FIT_FOLDS = 5
REPAIR_CLIP = 0.05
"""The propensity clip a repair move tries: weights of at most 19."""


@dataclass(frozen=True)
class DesignMove:
    """One proposed change to the analysis spec."""

    move: str  # stable id, e.g. "trim-0.1-0.9", "propensity-gradient_boosting", "placebo-ht"
    spec: AnalysisSpec  # written into the current file by engine.design.spec.edit_spec
    hypothesis: str
    rationale: str


def _forward(order: tuple, current) -> tuple:
    """The options after ``current`` in ``order``: switching only forward never cycles back to a
    state the agent started from (the baseline is not in the history of moves)."""
    return order[order.index(current) + 1 :] if current in order else order


def _history_ids(history: Iterable[str | tuple[str, str]]) -> set[str]:
    return {h if isinstance(h, str) else h[0] for h in history}


def next_design_move(
    contract: Contract,
    spec: AnalysisSpec,
    result: DesignResult | None,
    history: Iterable[str | tuple[str, str]] = (),
) -> DesignMove | None:
    """Choose the next design move.

    Parameters
    ----------
    contract
        The causal contract.
    spec
        The current (best) spec.
    result
        The last design run of ``spec``; None before the first run (then only moves that
        need no numbers are considered).
    history
        Moves already tried, as ids or ``(id, outcome)`` pairs; none is proposed again.

    Returns
    -------
    DesignMove or None
    """
    tried = _history_ids(history)
    for move in _candidates(contract, spec, result):
        if move is None or move[0] in tried:
            continue
        move_id, new_spec, hypothesis, rationale = move
        if new_spec == spec:
            continue
        return DesignMove(move_id, new_spec, hypothesis, rationale)
    return None


def _candidates(contract: Contract, spec: AnalysisSpec, result: DesignResult | None):
    """Moves in priority order, as (id, spec, hypothesis, rationale) tuples (None where a rule does not fire)."""
    covariates = spec.resolved_covariates(contract)
    left_out = [c for c in contract.controls if c not in covariates]
    strong_left_out = []
    if result is not None:
        strong_left_out = [f.name for f in omitted_confounders(result, spec) if f.name in left_out]

    def tighten():
        return (
            "covariates-all",
            spec.with_(covariates=None),
            f"Adjusting for every allowed control ({len(contract.controls)}) instead of {len(covariates)} removes "
            "confounding by the controls left out.",
            "The contract lists these controls as pre-treatment confounders; leaving any out "
            + (f"(here {', '.join(strong_left_out or left_out)}) " if left_out else "")
            + "risks omitted-variable bias, and the critic flags them as blind spots.",
        )

    def answers(gate: str | None, claim: str) -> str:
        """A hypothesis that names the failed gate it answers (none for a warning)."""
        return f"Answers the {gate} gate: {claim}" if gate else claim[0].upper() + claim[1:]

    def propensity_switches(result: DesignResult, gate: str | None, why: str | None = None):
        fitted = spec.propensity_learner
        if fitted is PropensityLearner.AUTO and result.propensity_choice is not None:
            fitted = result.propensity_choice.chosen  # switch forward from what auto fitted
        why = why or (
            f"Balance {result.balance.status.value}s: the {fitted.value.replace('_', ' ')} propensity model leaves "
            "the weighted arms different, so it misses part of the assignment mechanism."
        )
        for learner in _forward(PROPENSITY_ORDER, fitted):
            yield (
                f"propensity-{learner.value}",
                spec.with_(propensity_learner=learner),
                answers(
                    gate,
                    f"a {learner.value.replace('_', ' ')} propensity model balances the covariates better "
                    f"(largest |SMD| after weighting now {result.balance.max_after:.2f}).",
                ),
                why,
            )

    def clip_harder(gate: str, why: str):
        if spec.min_propensity < REPAIR_CLIP:
            return (
                f"clip-{REPAIR_CLIP:g}",
                spec.with_(min_propensity=REPAIR_CLIP),
                answers(
                    gate,
                    f"clipping propensities to [{REPAIR_CLIP:g}, {1 - REPAIR_CLIP:g}] caps every weight at "
                    f"{1 / REPAIR_CLIP - 1:.0f}, so no handful of units decides the {spec.estimand.value}.",
                ),
                f"{why} Clipping keeps every unit and the estimand; it trades a little bias for a bounded variance.",
            )
        return None

    def overlap_weights(gate: str, claim: str, why: str):
        if spec.estimand is not Estimand.ATO:
            return "estimand-ATO", spec.with_(estimand=Estimand.ATO, trim=(0.0, 1.0)), answers(gate, claim), why
        return None

    if spec.covariates is not None and (strong_left_out or result is None):
        yield tighten()

    if result is not None and result.sanity is not None and result.sanity.status is Status.FAIL:
        why = f"The sanity net failed: {result.sanity.message}"
        yield clip_harder("sanity", why)
        yield from propensity_switches(result, "sanity", why)
        yield overlap_weights(
            "sanity",
            "overlap weights e(1−e) are bounded, so the estimate cannot blow up; the estimand becomes the overlap "
            "population (ATO), labelled as such.",
            why,
        )

    if result is not None:
        ov = result.overlap
        if ov.status is Status.FAIL:
            yield clip_harder(
                "overlap", f"Overlap fails: {ov.share_outside:.0%} of units have propensity outside [0.1, 0.9]."
            )
            if not spec.trims:
                yield (
                    "trim-0.1-0.9",
                    spec.with_(trim=(0.1, 0.9)),
                    answers(
                        "overlap",
                        f"trimming to propensities in [0.1, 0.9] removes the {ov.share_outside:.0%} of units without "
                        "overlap, so the overlap diagnostic passes and the estimate stops leaning on extreme weights.",
                    ),
                    "Crump-style trimming is the standard fix for poor overlap; it changes the estimand to the "
                    "overlap population (ATO), which the critic will report with the trimmed population size.",
                )
            yield overlap_weights(
                "overlap",
                "overlap weights e(1−e) keep every unit but shrink those with extreme propensities, giving a stable "
                "estimate for the overlap population (ATO, labelled).",
                "An alternative to hard trimming when the principal prefers not to drop units: the estimand "
                "becomes the ATO by design rather than by trimming.",
            )
        if result.balance.status is Status.FAIL:
            yield from propensity_switches(result, "balance")
        trimming = result.trimming
        if trimming is not None and trimming.status is Status.FAIL:
            why = f"Trimming fails: {trimming.message}"
            yield overlap_weights(
                "trimming",
                "overlap weights e(1−e) give the units with extreme propensities almost no weight, so the estimate "
                "stops resting on them; the estimand becomes the overlap population (ATO), labelled.",
                why,
            )

    if not spec.placebo_outcomes:
        column = negative_control(contract, spec, result)
        if column is not None:
            role = "a pre-treatment column" if column not in contract.controls else "a pre-treatment control"
            yield (
                f"placebo-{column}",
                spec.with_(placebo_outcomes=(column,)),
                f"The treatment has no effect on {column}, {role}; a null placebo effect supports the adjustment set.",
                "A negative-control outcome is the one diagnostic that probes residual confounding directly; none "
                "is set yet.",
            )

    if result is not None:
        if result.balance.status is Status.WARN:
            yield from propensity_switches(result, None)
        ov = result.overlap
        if ov.status is Status.WARN and not spec.trims and spec.estimand is not Estimand.ATO:
            yield (
                "trim-0.05-0.95",
                spec.with_(trim=(0.05, 0.95)),
                "Light trimming to [0.05, 0.95] removes the few units with extreme propensities and tightens "
                "the interval at little cost in population.",
                f"Overlap warns: {ov.share_outside:.0%} of units lie outside [0.1, 0.9].",
            )

    if spec.covariates is not None:
        yield tighten()

    if result is not None:
        failed = [r.name for r in result.refuters if not r.passed] + [
            p.column for p in result.placebo if p.status is Status.FAIL
        ]
        if failed:
            for learner in _forward(OUTCOME_ORDER, spec.outcome_learner):
                yield (
                    f"outcome-{learner.value}",
                    spec.with_(outcome_learner=learner),
                    f"A {learner.value.replace('_', ' ')} outcome model removes the failure of {', '.join(failed)}.",
                    "A refuter or placebo failed; an outcome model that over- or under-fits is the usual cause "
                    "once the covariates are right.",
                )
        if spec.folds < CROSS_FIT_FOLDS:
            yield (
                f"folds-{CROSS_FIT_FOLDS}",
                spec.with_(folds=CROSS_FIT_FOLDS),
                f"{CROSS_FIT_FOLDS}-fold cross-fitting trains each nuisance model on more data and steadies the estimate.",
                f"The spec uses only {spec.folds} folds.",
            )

    # Robustness checks once nothing is wrong: does the answer survive another learner or estimator?
    if result is not None:
        alt = (
            OutcomeLearner.RANDOM_FOREST
            if spec.outcome_learner is not OutcomeLearner.RANDOM_FOREST
            else OutcomeLearner.GRADIENT_BOOSTING
        )
        yield (
            f"outcome-{alt.value}",
            spec.with_(outcome_learner=alt),
            f"The estimate does not depend on the outcome learner: a {alt.value.replace('_', ' ')} model gives "
            "the same answer within its interval.",
            "A robustness check: doubly-robust estimates should agree across reasonable nuisance learners.",
        )
        other = Estimator.DR if spec.estimator is Estimator.LINEAR_DR else Estimator.LINEAR_DR
        yield (
            f"estimator-{other.value}",
            spec.with_(estimator=other),
            f"The {other.value} estimator gives the same answer.",
            "A robustness check on the final stage: constant effect (AIPW) versus a CATE linear in the covariates.",
        )
