"""The offline critic: a rule-based review of a design run.

It rates credibility (``fully_satisfactory`` / ``satisfactory_with_caveats`` /
``not_satisfactory``) and names the diagnostics that decided it; says how the estimand
differs from what the contract asked; describes the target trial the analysis emulates
and where the emulation falls short; lists blind spots; proposes alternative measurement
strategies suited to the data; and triangulates the doubly-robust estimate against the
Bayesian one. Everything is derived from the numbers in a :class:`DesignResult` by
rule, so the same facts can be handed to the Claude critic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from engine.design.results import ColumnFact, DesignResult, DREstimate, Status, Triangulation
from engine.design.spec import AnalysisSpec
from engine.problem import Contract, Estimand, ForbiddenReason, Problem
from engine.records import Effect

# Triangulation: intervals "barely overlap" when their intersection is shorter than this
# share of the narrower interval; they "disagree" when the point estimates are further
# apart than the smaller half-width.
BARELY_OVERLAP_SHARE = 0.1
# Blind spots: an omitted pre-treatment column this imbalanced between arms is a likely confounder.
BLIND_SPOT_SMD = 0.1


class Tier(StrEnum):
    FULLY_SATISFACTORY = "fully_satisfactory"
    SATISFACTORY_WITH_CAVEATS = "satisfactory_with_caveats"
    NOT_SATISFACTORY = "not_satisfactory"

    @property
    def credibility(self) -> str:
        """DESIGN.md's words for the tier: high, medium or low."""
        return {"fully_satisfactory": "high", "satisfactory_with_caveats": "medium", "not_satisfactory": "low"}[
            self.value
        ]


@dataclass(frozen=True)
class TargetTrial:
    """The randomised trial this analysis emulates (Hernán & Robins), and where it falls short."""

    eligibility: str
    treatment_strategies: str
    assignment: str
    outcome: str
    follow_up: str
    causal_contrast: str
    shortfalls: tuple[str, ...]


@dataclass(frozen=True)
class Critique:
    tier: Tier
    decided_by: tuple[str, ...]  # diagnostics (or checks) that set the tier
    reasons: tuple[str, ...]  # one sentence each, in the order of decided_by
    headline: str  # the estimate in one line
    estimand_note: str
    target_trial: TargetTrial
    blind_spots: tuple[str, ...]
    alternatives: tuple[str, ...]
    triangulation: Triangulation | None
    summary: str

    @property
    def credibility(self) -> str:
        return self.tier.credibility


# --------------------------------------------------------------------------- triangulation


def triangulate(dr: DREstimate, bayes: Effect) -> Triangulation:
    """Compare the doubly-robust interval with the Bayesian one.

    Parameters
    ----------
    dr
        The doubly-robust estimate (95 % CI).
    bayes
        The model loop's posterior summary of the effect (its HDI).

    Returns
    -------
    Triangulation
        ``level`` is ``conflict`` when the intervals barely overlap (intersection under 10 %
        of the narrower one), ``disagree`` when the point estimates are further apart than
        the smaller half-width, else ``agree``.
    """
    gap = abs(dr.effect - bayes.mean)
    inter = max(0.0, min(dr.ci_high, bayes.hdi_high) - max(dr.ci_low, bayes.hdi_low))
    narrower = min(dr.ci_high - dr.ci_low, bayes.hdi_high - bayes.hdi_low)
    half = min(dr.half_width, (bayes.hdi_high - bayes.hdi_low) / 2)
    bayes_txt = f"Bayesian {bayes.estimand} {bayes.mean:.3g} [{bayes.hdi_low:.3g}, {bayes.hdi_high:.3g}]"
    dr_txt = f"doubly-robust {dr.estimand} {dr.effect:.3g} [{dr.ci_low:.3g}, {dr.ci_high:.3g}]"
    mismatch = ""
    if bayes.estimand != dr.estimand:
        mismatch = (
            f" Note the estimands differ ({bayes.estimand} vs {dr.estimand}): part of the gap may be a "
            "different population, not a different answer."
        )
    if inter <= BARELY_OVERLAP_SHARE * narrower:
        level = "conflict"
        message = (
            f"THE ESTIMATES CONFLICT: the {bayes_txt} and the {dr_txt} "
            + ("do not overlap at all" if inter == 0 else "barely overlap")
            + f" (gap {gap:.3g}). At least one is confidently wrong. On heavy-tailed response surfaces a "
            "too-rigid Bayesian outcome model can be confidently wrong while a DR learner, which also uses the "
            "propensity, is not: check the Bayesian model's fit (per-arm structure, splines, the tails) and the "
            "DR diagnostics before reporting either."
        )
    elif gap > half:
        level = "disagree"
        message = (
            f"The estimates disagree: the {bayes_txt} and the {dr_txt} are {gap:.3g} apart, more than the "
            f"smaller half-width ({half:.3g}). Their intervals overlap, but do not report one without the other; "
            "a rigid Bayesian mean model is the usual suspect on skewed outcomes."
        )
    else:
        level = "agree"
        message = f"The {bayes_txt} and the {dr_txt} agree (gap {gap:.3g}, within both half-widths)."
    return Triangulation(
        bayes_estimand=bayes.estimand,
        dr_estimand=dr.estimand,
        bayes_mean=bayes.mean,
        bayes_low=bayes.hdi_low,
        bayes_high=bayes.hdi_high,
        dr_effect=dr.effect,
        dr_low=dr.ci_low,
        dr_high=dr.ci_high,
        gap=gap,
        overlap=inter,
        level=level,
        message=message + mismatch,
    )


# --------------------------------------------------------------------------- the review


def _estimand_note(contract: Contract, spec: AnalysisSpec, result: DesignResult) -> tuple[str, bool]:
    """How the estimate's estimand differs from the contract's; True when it differs."""
    est = result.estimate
    asked = contract.estimand.value
    parts: list[str] = []
    if spec.estimand is not contract.estimand:
        parts.append(
            f"The contract asks for the {asked}, but the spec estimates the {spec.estimand.value}: "
            + {
                Estimand.ATE: "the average over everyone.",
                Estimand.ATT: "the average over the treated only.",
                Estimand.ATO: "an overlap-weighted average that emphasises units whose propensity is near 0.5.",
            }[spec.estimand]
        )
    if est.n_dropped:
        parts.append(
            f"Trimming to propensities in [{spec.trim[0]:g}, {spec.trim[1]:g}] dropped {est.n_dropped} of "
            f"{est.n_total} units ({est.n_dropped / est.n_total:.0%}); the estimate is the {est.estimand} — the "
            f"effect in the {est.n} units where both treatments are plausible — not the {asked} over all "
            f"{est.n_total} that the question asks about. Units with extreme propensities are a different population "
            "and their effect may differ."
        )
    elif spec.estimand is Estimand.ATO and contract.estimand is not Estimand.ATO:
        parts.append("No unit was dropped, but overlap weights shrink units with extreme propensities towards zero.")
    if not parts:
        return (f"The estimate answers the contract's question: the {asked} over all {est.n_total} units.", False)
    if result.population:
        parts.append(
            f"Whose effect it is: against all {est.n_total} units, the {est.estimand}'s population has "
            + "; ".join(shift.describe() for shift in result.population)
            + "."
        )
    return (" ".join(parts), True)


def _target_trial(contract: Contract, spec: AnalysisSpec, result: DesignResult, question: str) -> TargetTrial:
    est = result.estimate
    trimmed = est.n_dropped > 0
    eligibility = f"the {est.n_total} units in the data" + (f" ({question})" if question else "")
    if trimmed:
        eligibility = f"the {est.n} of {est.n_total} units whose estimated propensity lies in [{spec.trim[0]:g}, {spec.trim[1]:g}]"
    contrast = {
        "ATE": "the difference in mean outcome if everyone eligible were treated versus if no one were (ATE)",
        "ATT": "the difference in mean outcome among those who were treated, versus had they not been (ATT)",
        "ATO": "the difference in mean outcome in the overlap population, weighted towards units either arm could enrol (ATO)",
        "ATT-trimmed": "the effect among treated units inside the trimming bounds",
    }[est.estimand]
    shortfalls = [
        f"No randomisation: assignment is emulated by adjusting for {len(result.covariates)} covariates, so the "
        "analysis assumes conditional exchangeability — no unmeasured confounder — which the data cannot test "
        f"(the E-value says how strong a violation would need to be).",
    ]
    ov = result.overlap
    if ov.share_outside >= 0.05:
        shortfalls.append(
            f"Positivity: {ov.share_outside:.0%} of units have propensity outside [0.1, 0.9] "
            f"({ov.share_outside_treated:.0%} of treated, {ov.share_outside_control:.0%} of controls): a trial would "
            "enrol them in both arms; here one arm barely exists for them."
        )
    if trimmed:
        shortfalls.append(
            "Eligibility is defined by an estimated propensity, which no trial could use as an enrolment rule; "
            "read who remains (the estimand note names the columns that moved) before generalising."
        )
    if result.balance.status is not Status.PASS:
        shortfalls.append(
            f"The weighted arms are not as alike as randomised arms would be (largest |SMD| {result.balance.max_after:.2f})."
        )
    if not result.placebo:
        shortfalls.append("No placebo outcome was tested, so a residual difference between the arms goes unchecked.")
    post = [f for f in contract.forbidden if f.reason in (ForbiddenReason.POST_TREATMENT, ForbiddenReason.MEDIATOR)]
    if post:
        shortfalls.append(
            "Time zero must be the moment of assignment: "
            + ", ".join(f.name for f in post)
            + " happen after it and must stay out of the adjustment set."
        )
    return TargetTrial(
        eligibility=eligibility,
        treatment_strategies=f"{contract.treatment} = 1 versus {contract.treatment} = 0, assigned at time zero",
        assignment=f"randomised in the target trial; emulated by adjusting for {', '.join(result.covariates[:8])}"
        + (f" and {len(result.covariates) - 8} more" if len(result.covariates) > 8 else ""),
        outcome=f"{contract.outcome} ({result.outcome_type})",
        follow_up=(
            "from assignment until the outcome is measured, once per unit, as PROBLEM.md describes; every "
            "covariate must be measured before assignment"
        ),
        causal_contrast=contrast,
        shortfalls=tuple(shortfalls),
    )


def residual_imbalance(fact: ColumnFact) -> float:
    """|SMD| of a column after the analysis' weighting (raw |SMD| when no weights were available).

    Parameters
    ----------
    fact
        Facts about one candidate column.

    Returns
    -------
    float
    """
    return fact.smd_treatment if math.isnan(fact.smd_weighted) else fact.smd_weighted


def omitted_confounders(result: DesignResult, spec: AnalysisSpec) -> list[ColumnFact]:
    """Pre-treatment columns outside the adjustment set that the weighting leaves imbalanced.

    Placebo outcomes are left to their own diagnostic.

    Parameters
    ----------
    result
        The design run, with its column facts.
    spec
        Its analysis spec (for the placebo outcomes).

    Returns
    -------
    list of ColumnFact
        Columns not adjusted for whose :func:`residual_imbalance` is at least
        :data:`BLIND_SPOT_SMD`, in the run's column order.
    """
    return [
        f
        for f in result.columns
        if not f.in_covariates and f.name not in spec.placebo_outcomes and residual_imbalance(f) >= BLIND_SPOT_SMD
    ]


def _blind_spots(contract: Contract, spec: AnalysisSpec, result: DesignResult) -> list[str]:
    spots: list[str] = []
    for fact in sorted(result.columns, key=lambda f: -residual_imbalance(f)):
        if fact.in_covariates or fact.name in spec.placebo_outcomes:
            continue
        left = residual_imbalance(fact)
        if fact.role == "control":
            strength = (
                f", and the arms still differ on it after weighting (|SMD| {left:.2f})"
                if left >= BLIND_SPOT_SMD
                else ""
            )
            spots.append(
                f"{fact.name} is an allowed control left out of the covariates{strength}; put it back "
                '(covariates = "all") unless there is a reason to exclude it.'
            )
        elif left >= BLIND_SPOT_SMD:
            spots.append(
                f"{fact.name} is pre-treatment and the arms still differ on it after weighting (|SMD| {left:.2f}, "
                f"{fact.smd_treatment:.2f} raw), but it is not an allowed control: if it is a confounder the contract "
                "should list it; as it stands the analysis cannot adjust for it. Using it as a placebo outcome would "
                "test this directly."
            )
    tempting = [f for f in contract.forbidden if f.reason is not ForbiddenReason.ORACLE]
    if tempting:
        spots.append(
            "Tempting but forbidden: "
            + "; ".join(f"{f.name} ({f.reason.value}{': ' + f.note if f.note else ''})" for f in tempting)
            + ". Adjusting for any of them would bias the estimate, however much it improves a fit."
        )
    spots.append(
        "Unmeasured confounders: nothing in these data can rule them out. Name the likeliest one from PROBLEM.md "
        "and compare its plausible strength with the E-value and robustness value."
    )
    return spots


NEGATIVE_CONTROL_MIN_SMD = 0.1
"""A negative control whose arms differ by less than this (|SMD|, before any weighting) is not offered.

A placebo outcome detects residual confounding only through its own association with the
treatment: a column assigned at random (retention's ``wave``) passes under any adjustment set,
so suggesting it spends an iteration on a test that cannot fail. 0.1 is the balance threshold."""


def uninformative_placebos(result: DesignResult) -> list[str]:
    """The placebo outcomes the run tested whose arms did not differ before any weighting.

    Such a column passes under any adjustment set (:data:`NEGATIVE_CONTROL_MIN_SMD`), so its
    pass says nothing about confounding and must not clear the "no placebo" caveat (red team,
    round 12: retention's randomised ``wave`` did).

    Parameters
    ----------
    result
        The design run, with its placebo results and column facts.

    Returns
    -------
    list of str
        Column names, in the order tested.
    """
    facts = {f.name: f for f in result.columns}
    return [
        p.column
        for p in result.placebo
        if p.column in facts
        and not math.isnan(facts[p.column].smd_treatment)
        and facts[p.column].smd_treatment < NEGATIVE_CONTROL_MIN_SMD
    ]


def negative_control(contract: Contract, spec: AnalysisSpec, result: DesignResult | None) -> str | None:
    """The most informative negative-control outcome the spec does not test yet, or None.

    Pre-treatment columns that are not controls come first (using one costs the adjustment set
    nothing), then the column closest to the outcome; categoricals and columns whose arms do not
    differ (:data:`NEGATIVE_CONTROL_MIN_SMD`) are left out. A control is offered only when the
    adjustment set keeps another covariate without it. The critic and the offline agent's moves
    both take it from here.

    Parameters
    ----------
    contract
        The causal contract (its placebo candidates, controls and categoricals).
    spec
        The analysis spec (its placebo outcomes and covariates).
    result
        The design run, for each column's association with treatment and outcome (None: by role only).

    Returns
    -------
    str or None
    """
    facts = {f.name: f for f in result.columns} if result is not None else {}

    def informative(name: str) -> bool:
        fact = facts.get(name)
        # No fact, or an SMD that could not be computed (NaN): offered, as by role alone.
        return fact is None or math.isnan(fact.smd_treatment) or fact.smd_treatment >= NEGATIVE_CONTROL_MIN_SMD

    candidates = [
        c
        for c in contract.placebo_candidates
        if c not in contract.categorical and c not in spec.placebo_outcomes and informative(c)
    ]
    if not candidates:
        return None

    def key(name: str) -> tuple[int, float]:
        fact = facts.get(name)
        return (0 if name not in contract.controls else 1, -(fact.corr_outcome if fact is not None else 0.0))

    best = min(candidates, key=key)
    covariates = spec.resolved_covariates(contract)
    if best in covariates and len(covariates) < 2:
        return None
    return best


def _alternatives(contract: Contract, spec: AnalysisSpec, result: DesignResult, kind: str) -> list[str]:
    alts: list[str] = []
    facts = result.facts
    if facts.lagged_outcomes:
        cols = ", ".join(facts.lagged_outcomes)
        alts.append(
            f"Difference-in-differences with pre-period outcomes ({cols}): compare changes rather than levels, "
            "which removes confounders that are constant over time; check parallel pre-trends."
        )
    for name, cut, jump in facts.thresholds:
        alts.append(
            f"Regression discontinuity at {name} = {cut:.3g}: the treated share jumps by {jump:.0%} there, so units "
            "just either side of the cutoff are nearly randomised."
        )
    for name in facts.instruments:
        alts.append(
            f"Instrumental variables with {name}, if it shifts {contract.treatment} but touches {contract.outcome} only "
            "through it (argue the exclusion restriction in PROBLEM.md)."
        )
    col = negative_control(contract, spec, result)
    if col is not None and (not spec.placebo_outcomes or col not in contract.controls):
        alts.append(
            f"A negative-control outcome: estimate the 'effect' on {col} (set placebo_outcomes = [\"{col}\"]); a "
            "non-null result measures the residual confounding directly."
        )
    if kind in ("synthetic", ""):
        alts.append(
            f"An A/B test: the organisation controls {contract.treatment}, so randomise it in a sample and "
            "estimate the effect directly — the benchmark every observational estimate here stands in for."
        )
    else:
        alts.append(
            f"A randomised encouragement design: randomise an encouragement to take up {contract.treatment} "
            "(an invitation, a reminder, a subsidy) and estimate the effect among compliers by instrumental "
            "variables — the closest feasible stand-in for the target trial."
        )
    return alts


def critique(
    problem: Problem | Contract,
    spec: AnalysisSpec,
    result: DesignResult,
    bayesian_effect: Effect | None = None,
    *,
    question: str = "",
) -> Critique:
    """Review a design run by rule.

    Parameters
    ----------
    problem
        The problem (for its contract, question and kind) or just its contract.
    spec
        The analysis spec that was run.
    result
        What :func:`engine.design.run.run_design` measured.
    bayesian_effect
        The model loop's current best effect, for triangulation; defaults to the one
        stored in ``result``.
    question
        The causal question, when ``problem`` is a bare contract.

    Returns
    -------
    Critique
    """
    if isinstance(problem, Problem):
        contract, question, kind = problem.contract, question or problem.question, problem.kind
    else:
        contract, kind = problem, ""
    bayes = bayesian_effect or result.bayesian_effect
    tri = triangulate(result.estimate, bayes) if bayes is not None else None

    diagnostics = result.diagnostics()
    fails = [d for d in diagnostics if d.status is Status.FAIL]
    warns = [d for d in diagnostics if d.status is Status.WARN]
    estimand_note, estimand_differs = _estimand_note(contract, spec, result)
    blind = _blind_spots(contract, spec, result)

    caveats: list[tuple[str, str]] = [(d.name, d.message) for d in warns]
    blind_placebos = uninformative_placebos(result)
    if not result.placebo:
        caveats.append(
            ("placebo:none", "No placebo outcome was tested; set placebo_outcomes to a pre-treatment column.")
        )
    elif len(blind_placebos) == len(result.placebo):
        caveats.append(
            (
                "placebo:none",
                f"The placebo outcomes tested ({', '.join(blind_placebos)}) do not differ between the arms before "
                f"any adjustment (|SMD| under {NEGATIVE_CONTROL_MIN_SMD}), so they pass under any adjustment set and "
                "test nothing; set placebo_outcomes to a pre-treatment column the arms differ on.",
            )
        )
    if estimand_differs:
        caveats.append(("estimand", estimand_note))
    omitted = omitted_confounders(result, spec)
    if omitted:
        caveats.append(
            (
                "blind-spot",
                "Pre-treatment columns that predict treatment are not adjusted for: "
                + ", ".join(f.name for f in omitted)
                + ".",
            )
        )
    if tri is not None and tri.loud:
        caveats.append(("triangulation", tri.message))

    if fails:
        tier = Tier.NOT_SATISFACTORY
        decided = [(d.name, d.message) for d in fails]
    elif caveats:
        tier = Tier.SATISFACTORY_WITH_CAVEATS
        decided = caveats
    else:
        tier = Tier.FULLY_SATISFACTORY
        decided = [(d.name, d.message) for d in diagnostics]

    est = result.estimate
    if tier is Tier.NOT_SATISFACTORY:
        summary = (
            f"Not credible yet: {', '.join(n for n, _ in decided)} failed. Fix the design before quoting "
            f"{est.describe()}."
        )
    elif tier is Tier.SATISFACTORY_WITH_CAVEATS:
        summary = (
            f"Credible with caveats ({', '.join(n for n, _ in decided)}): {est.describe()}. Quote it with the caveats."
        )
    else:
        summary = f"Credible: every diagnostic passed. {est.describe()}; the remaining risk is unmeasured confounding."
    if tri is not None and tri.level == "conflict":
        summary += " LOUD: the Bayesian and doubly-robust estimates conflict."
    return Critique(
        tier=tier,
        decided_by=tuple(n for n, _ in decided),
        reasons=tuple(m for _, m in decided),
        headline=est.describe()
        if result.sanity is None or result.sanity.credible
        else f"not credible: {est.describe()}",
        estimand_note=estimand_note,
        target_trial=_target_trial(contract, spec, result, question),
        blind_spots=tuple(blind),
        alternatives=tuple(_alternatives(contract, spec, result, kind)),
        triangulation=tri,
        summary=summary,
    )


def critique_markdown(c: Critique) -> str:
    """The critique as Markdown, for the session record and the report.

    Parameters
    ----------
    c
        The critic's review.

    Returns
    -------
    str
        A level-2 heading with the tier, the summary and headline, the triangulation, what
        decided it, the estimand, the target trial and its shortfalls, blind spots and
        alternative strategies; it ends with a newline.
    """
    tt = c.target_trial
    lines = [
        f"## Critic: {c.tier.value.replace('_', ' ')} (credibility {c.credibility})",
        "",
        c.summary,
        "",
        f"**Estimate.** {c.headline}",
        "",
    ]
    if c.triangulation is not None:
        marker = "**⚠ Triangulation.**" if c.triangulation.loud else "**Triangulation.**"
        lines += [f"{marker} {c.triangulation.message}", ""]
    lines += ["### What decided it", ""]
    lines += [f"- **{name}**: {reason}" for name, reason in zip(c.decided_by, c.reasons)]
    lines += ["", "### Estimand", "", c.estimand_note, "", "### The target trial", ""]
    lines += [
        f"- **Eligibility:** {tt.eligibility}",
        f"- **Treatment strategies:** {tt.treatment_strategies}",
        f"- **Assignment:** {tt.assignment}",
        f"- **Outcome:** {tt.outcome}",
        f"- **Follow-up:** {tt.follow_up}",
        f"- **Causal contrast:** {tt.causal_contrast}",
        "",
        "Where the emulation falls short:",
        "",
    ]
    lines += [f"- {s}" for s in tt.shortfalls]
    lines += ["", "### Blind spots", ""]
    lines += [f"- {s}" for s in c.blind_spots]
    lines += ["", "### Alternative measurement strategies", ""]
    lines += [f"- {s}" for s in c.alternatives]
    return "\n".join(lines) + "\n"
