"""The offline critic's review of a model-loop verdict, derived from the numbers by rule.

The design loop has its own critic (:mod:`engine.design.critic`). For a sampled Bayesian
model this one says how far to trust the effect: did the posterior converge, is PSIS-LOO
reliable, and — above all — does the estimate agree with the doubly-robust one from the
design loop? On heavy-tailed response surfaces a too-rigid Bayesian model can be
confidently wrong while a DR learner is not, so a conflict is said loudly.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.design.critic import triangulate
from engine.design.results import DREstimate, Triangulation
from engine.problem import Contract
from engine.records import Verdict, VerdictKind


@dataclass(frozen=True)
class ModelReview:
    """How far to trust one sampled model's effect, and why."""

    credibility: str  # high, medium or low
    reasons: tuple[str, ...]  # what set the credibility, most serious first
    estimand_note: str
    triangulation: Triangulation | None
    blind_spots: tuple[str, ...]
    alternative: str

    def markdown(self) -> str:
        """The review as Markdown: credibility and reasons, the estimand note, the triangulation,
        blind spots and the alternative.

        Returns
        -------
        str
        """
        lines = [f"**Credibility: {self.credibility}.** " + " ".join(self.reasons), "", self.estimand_note]
        if self.triangulation is not None:
            lines += ["", self.triangulation.message]
        if self.blind_spots:
            lines += ["", "Blind spots:"] + [f"- {b}" for b in self.blind_spots]
        lines += ["", f"Alternative: {self.alternative}"]
        return "\n".join(lines)


def review_model(verdict: Verdict | None, contract: Contract, dr: DREstimate | None) -> ModelReview | None:
    """Review a model-loop iteration that was sampled.

    Parameters
    ----------
    verdict
        The iteration's verdict; None (rejected or skipped) and crashed ones get no review.
    contract
        The causal contract (for the estimand asked).
    dr
        The design loop's doubly-robust estimate to triangulate against, if one was run.

    Returns
    -------
    ModelReview or None
    """
    if verdict is None or verdict.kind is VerdictKind.CRASHED or verdict.metrics.effect is None:
        return None
    metrics, effect = verdict.metrics, verdict.metrics.effect
    low: list[str] = []
    medium: list[str] = []
    blind: list[str] = [
        "The model assumes no unmeasured confounding given the allowed controls; nothing in the fit can test "
        "that. The design loop's E-value and robustness value say how strong a hidden confounder would need to be."
    ]
    if verdict.kind is VerdictKind.FAILED_GATE:
        failed = ", ".join(g.name for g in verdict.gates if not g.passed) or "a convergence gate"
        low.append(f"The posterior failed {failed}, so its effect summary is not reliable.")
    if metrics.pareto_k_bad:
        medium.append(
            f"PSIS-LOO is unreliable for {metrics.pareto_k_bad} observation(s) (Pareto k > 0.7): the ELPD "
            "comparison leans on units the model predicts badly."
        )
        blind.append("Look at the high-k units: they are often the tails a rigid mean or a normal likelihood misses.")
    triangulation = triangulate(dr, effect) if dr is not None else None
    if triangulation is None:
        medium.append("No doubly-robust estimate to triangulate against yet.")
    elif triangulation.level == "conflict":
        low.append("The Bayesian and doubly-robust estimates conflict.")
    elif triangulation.level == "disagree":
        medium.append("The Bayesian and doubly-robust estimates disagree beyond a half-width.")
    credibility = "low" if low else "medium" if medium else "high"
    reasons = tuple(low + medium) or (
        "Converged, PSIS-LOO reliable for every unit, and the doubly-robust estimate agrees.",
    )
    asked = contract.estimand.value
    population = {"ATE": "over all units", "ATT": "over the treated", "ATO": "with overlap weights e(x)(1 − e(x))"}
    estimand_note = (
        f"The harness computed the {effect.estimand} by intervention on t, averaging mu(t=1) − mu(t=0) "
        f"{population.get(effect.estimand, '')}"
        + (", as the contract asks." if effect.estimand == asked else f", while the contract asks for the {asked}.")
    )
    alternative = (
        "Run the design loop (propensity-based doubly-robust estimate with balance, overlap, placebo and refuters) "
        "and compare."
        if dr is None
        else "If the two estimates cannot be reconciled, fit per-arm flexible surfaces (splines) or trim to the "
        "overlap population in both analyses and compare the ATO."
    )
    return ModelReview(credibility, reasons, estimand_note, triangulation, tuple(blind), alternative)
