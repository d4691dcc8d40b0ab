"""The design loop's verdict: the same four outcomes as the model loop, judged by design.

A design run *fails a gate* when a gating diagnostic fails (balance, overlap, a placebo
outcome) — the analogue of a convergence gate. Otherwise it is *kept* when nothing is
kept yet, when the critic rates it more credible than the current best, when it is as
credible with a materially narrower interval, or as credible with an interval no wider and
more diagnostics passing (a new placebo outcome, say); else it is *discarded*.

"As credible" is more than the same tier (red team, round 12): a design that raises a caveat
the best does not have, or adjusts for fewer of the contract's controls, can narrow its
interval by what it gave up (dropping a confounder, clipping harder); and one that differs
from the best only in its seed has re-drawn its cross-fitting folds, which moves the width
by luck. Neither is kept on its width.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from engine.design.critic import Critique, Tier, uninformative_placebos
from engine.design.results import DesignResult, Status
from engine.design.spec import AnalysisSpec
from engine.records import Effect, Metrics, Verdict, VerdictKind

TIER_ORDER = (Tier.NOT_SATISFACTORY, Tier.SATISFACTORY_WITH_CAVEATS, Tier.FULLY_SATISFACTORY)
SAME_WIDTH = 0.01
"""Intervals within 1 % of each other's width count as equally wide."""
NARROWER = 0.10
"""How much narrower an interval must be to count as narrower: more than the cross-fitting folds
move it by themselves (the width's sd across six seeds of the shipped designs: 0.8 % on the
retention data, 3.1 % on NHEFS, 13 % on IHDP; a threshold cannot hide all of that, the seed rule
below takes the rest)."""


@dataclass(frozen=True)
class BestDesign:
    """What the keep rule needs of the current best design."""

    tier: Tier
    effect: Effect
    passed: frozenset[str]  # names of the diagnostics that passed
    caveats: frozenset[str]  # what the critic's caveats name (when it rated it with caveats)
    covariates: frozenset[str]  # the controls it adjusted for
    spec: AnalysisSpec

    @classmethod
    def of(cls, result: DesignResult, critique: Critique) -> BestDesign:
        """The keep rule's view of a kept design.

        Parameters
        ----------
        result
            The kept run.
        critique
            The critic's review of it.

        Returns
        -------
        BestDesign
            Its tier, effect, passed diagnostics, caveats, adjustment set and spec.
        """
        return cls(
            critique.tier,
            result.estimate.as_effect(),
            passed_diagnostics(result),
            caveats(critique),
            frozenset(result.covariates),
            result.spec,
        )


def caveats(critique: Critique) -> frozenset[str]:
    """The names of the critic's caveats (empty unless it rated the design with caveats).

    Parameters
    ----------
    critique
        The critic's review.

    Returns
    -------
    frozenset of str
    """
    return frozenset(critique.decided_by) if critique.tier is Tier.SATISFACTORY_WITH_CAVEATS else frozenset()


def passed_diagnostics(result: DesignResult) -> frozenset[str]:
    """The names of the run's diagnostics whose status is ``pass``.

    Parameters
    ----------
    result
        A design run.

    Returns
    -------
    frozenset of str
        Names as :meth:`DesignResult.diagnostics` gives them; a placebo outcome the arms did not
        differ on passes under any adjustment set, so its pass is not counted.
    """
    blind = {f"placebo:{column}" for column in uninformative_placebos(result)}
    return frozenset(d.name for d in result.diagnostics() if d.status is Status.PASS and d.name not in blind)


def design_verdict(result: DesignResult, critique: Critique, best: BestDesign | None) -> Verdict:
    """Judge one design run against the current best design.

    Parameters
    ----------
    result
        The run's estimate and diagnostics.
    critique
        The critic's review of it.
    best
        The current best design's tier and effect, or None when nothing is kept yet.

    Returns
    -------
    Verdict
        ``failed_gate``, ``kept`` or ``discarded`` with a one-sentence reason; the metrics
        carry the doubly-robust effect (95 % CI in the HDI fields).
    """
    effect = result.estimate.as_effect()
    metrics = Metrics(effect=effect)
    failures = result.gate_failures()
    if failures:
        messages = {d.name: d.message for d in result.diagnostics()}
        reason = "failed design gate: " + "; ".join(f"{name} — {messages[name]}" for name in failures)
        return Verdict(VerdictKind.FAILED_GATE, reason, metrics)
    tier = critique.tier
    if best is None:
        return Verdict(
            VerdictKind.KEPT, f"first design to pass the gates; critic: {tier.credibility} credibility", metrics
        )
    best_tier, best_effect = best.tier, best.effect
    rank, best_rank = TIER_ORDER.index(tier), TIER_ORDER.index(best_tier)
    if rank > best_rank:
        return Verdict(
            VerdictKind.KEPT, f"more credible than the best ({best_tier.credibility} → {tier.credibility})", metrics
        )
    if rank == best_rank:
        held_back = _not_as_credible(result, critique, best)
        if held_back:
            return Verdict(
                VerdictKind.DISCARDED, f"same tier as the best ({tier.credibility}), but {held_back}", metrics
            )
    if rank == best_rank and effect.width < best_effect.width * (1 - NARROWER):
        return Verdict(
            VerdictKind.KEPT,
            f"as credible as the best ({tier.credibility}) with a narrower interval "
            f"({best_effect.width:.3g} → {effect.width:.3g})",
            metrics,
        )
    newly_passed = sorted(passed_diagnostics(result) - best.passed)
    if rank == best_rank and effect.width <= best_effect.width * (1 + SAME_WIDTH) and newly_passed:
        return Verdict(
            VerdictKind.KEPT,
            f"as credible as the best ({tier.credibility}), interval no wider, and more diagnostics pass "
            f"({', '.join(newly_passed)})",
            metrics,
        )
    if rank < best_rank:
        reason = f"less credible than the best ({best_tier.credibility} → {tier.credibility})"
    else:
        reason = (
            f"as credible as the best ({tier.credibility}) but the interval is not narrower by more than "
            f"{NARROWER:.0%} ({best_effect.width:.3g} vs {effect.width:.3g})"
        )
    return Verdict(VerdictKind.DISCARDED, reason, metrics)


def _not_as_credible(result: DesignResult, critique: Critique, best: BestDesign) -> str:
    """Why a design in the best's tier is still not as credible as the best ("" when it is)."""
    if _but_the_seed(result.spec, result.covariates) == _but_the_seed(best.spec, best.covariates):
        return (
            f"it differs from the best only in its seed ({best.spec.seed} → {result.spec.seed}): a new seed "
            "re-draws the cross-fitting folds, which is luck, not a better design"
        )
    dropped = sorted(best.covariates - set(result.covariates))
    if dropped:
        return (
            f"it adjusts for fewer of the contract's controls than the best (drops {', '.join(dropped[:4])}"
            f"{' and more' if len(dropped) > 4 else ''}): an interval narrowed by leaving out a confounder is "
            "bought with bias"
        )
    raised = sorted(caveats(critique) - best.caveats)
    if raised:
        return f"it raises caveats the best does not have ({', '.join(raised)})"
    return ""


def _but_the_seed(spec: AnalysisSpec, covariates: Iterable[str]) -> AnalysisSpec:
    """The spec with its seed set aside and its covariates as the set they resolve to ("all" or the list)."""
    return dataclasses.replace(spec, seed=0, covariates=tuple(sorted(covariates)))
