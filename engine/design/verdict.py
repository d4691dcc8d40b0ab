"""The design loop's verdict: the same four outcomes as the model loop, judged by design.

A design run *fails a gate* when a gating diagnostic fails (balance, overlap, a placebo
outcome) — the analogue of a convergence gate. Otherwise it is *kept* when nothing is
kept yet, when the critic rates it more credible than the current best, when it is as
credible with a narrower interval, or as credible with an interval no wider and more
diagnostics passing (a new placebo outcome, say); else it is *discarded*.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.design.critic import Critique, Tier
from engine.design.results import DesignResult, Status
from engine.records import Effect, Metrics, Verdict, VerdictKind

TIER_ORDER = (Tier.NOT_SATISFACTORY, Tier.SATISFACTORY_WITH_CAVEATS, Tier.FULLY_SATISFACTORY)
SAME_WIDTH = 0.01
"""Intervals within 1 % of each other's width count as equally wide."""


@dataclass(frozen=True)
class BestDesign:
    """What the keep rule needs of the current best design."""

    tier: Tier
    effect: Effect
    passed: frozenset[str]  # names of the diagnostics that passed

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
            Its tier, its effect and the diagnostics that passed.
        """
        return cls(critique.tier, result.estimate.as_effect(), passed_diagnostics(result))


def passed_diagnostics(result: DesignResult) -> frozenset[str]:
    """The names of the run's diagnostics whose status is ``pass``.

    Parameters
    ----------
    result
        A design run.

    Returns
    -------
    frozenset of str
        Names as :meth:`DesignResult.diagnostics` gives them.
    """
    return frozenset(d.name for d in result.diagnostics() if d.status is Status.PASS)


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
    if rank == best_rank and effect.width < best_effect.width:
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
            f"as credible as the best ({tier.credibility}) but the interval is not narrower "
            f"({best_effect.width:.3g} vs {effect.width:.3g})"
        )
    return Verdict(VerdictKind.DISCARDED, reason, metrics)
