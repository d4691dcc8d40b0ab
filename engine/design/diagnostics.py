"""Design diagnostics: covariate balance, propensity overlap, trimming sensitivity, placebo outcomes.

Each returns a typed result (:mod:`engine.design.results`) with a status and a message
that says what the number means and what to do. Thresholds are the named constants
below; they follow the Netflix observational-inference agent and common practice
(Austin 2009 for standardized mean differences, Crump et al. 2009 for trimming).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.design.estimate import Z95, DesignData, NuisanceFit, estimate_effect, fit_dr, prepare
from engine.design.results import (
    BalanceResult,
    DREstimate,
    OverlapResult,
    PlaceboOutcomeResult,
    SMDRow,
    Status,
    TrimmingResult,
    TrimPoint,
)
from engine.design.spec import AnalysisSpec
from engine.errors import SpecError
from engine.problem import Contract, Estimand

# Balance: |SMD| after weighting below 0.1 is balanced; 0.1–0.2 is a warning; 0.2 or more fails.
SMD_PASS_BELOW = 0.1
SMD_FAIL_AT = 0.2
ESS_WARN_SHARE = 0.5  # weights whose effective sample size is under half an arm are flagged in the message

# Overlap: share of the analysed population with propensity outside [0.1, 0.9].
OVERLAP_BOUNDS = (0.1, 0.9)
OVERLAP_PASS_BELOW = 0.05  # under 5 % outside: pass
OVERLAP_FAIL_ABOVE = 0.20  # over 20 % outside: fail (a warning for ATO, whose weights handle it)
HIST_BINS = 20

# Trimming sensitivity: Crump-style symmetric thresholds; the estimate should move by less
# than one untrimmed standard error across them.
TRIM_THRESHOLDS = (0.0, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15)
TRIM_SHIFT_PASS_SE = 1.0
# Past its own 95 % half-width the untrimmed estimate lies outside the interval it would have
# without the extreme-propensity units: the answer is theirs, not the comparable units'. On our
# simulations of ACIC-like data (benchmarks/calibrate_design.py settings; never the battery's
# truth), the satisfactory estimates that moved this far had the largest satisfactory errors.
TRIM_SHIFT_FAIL_SE = Z95

# Placebo outcome: the effect on a pre-treatment column should be null: its interval covers
# zero and it is smaller than a tenth of the column's standard deviation.
PLACEBO_STD_MAX = 0.1


def _ess(w: np.ndarray) -> float:
    """Kish effective sample size: (Σw)² / Σw²."""
    return float(w.sum() ** 2 / (w**2).sum()) if len(w) else 0.0


def _status(value: float, pass_below: float, fail_at: float) -> Status:
    if value < pass_below:
        return Status.PASS
    return Status.WARN if value < fail_at else Status.FAIL


def estimand_weights(e: np.ndarray, t: np.ndarray, estimand: Estimand) -> np.ndarray:
    """Balancing weights for the estimand: inverse propensity (ATE), odds (ATT), overlap (ATO).

    Parameters
    ----------
    e
        Propensities as the analysis clipped them (:attr:`NuisanceFit.e_clipped`).
    t
        Treatment, 0/1.
    estimand
        ATE: ``1/e`` and ``1/(1 − e)``; ATT: 1 and ``e/(1 − e)``; ATO: ``1 − e`` and ``e``
        (treated and controls respectively).

    Returns
    -------
    numpy.ndarray
        One weight per unit.
    """
    if estimand is Estimand.ATE:
        return t / e + (1 - t) / (1 - e)
    if estimand is Estimand.ATT:
        return t + (1 - t) * e / (1 - e)
    return t * (1 - e) + (1 - t) * e


_WEIGHT_NAMES = {
    Estimand.ATE: "ATE (inverse propensity)",
    Estimand.ATT: "ATT (treated 1, controls e/(1−e))",
    Estimand.ATO: "ATO (overlap e(1−e))",
}


def standardized_differences(
    W: np.ndarray, t: np.ndarray, weights: np.ndarray | None = None, scale: np.ndarray | None = None
) -> np.ndarray:
    """Standardized mean differences (treated − control) of each column of ``W``.

    Parameters
    ----------
    W
        Covariates, one column each.
    t
        Treatment, 0/1.
    weights
        Unit weights (None for raw means).
    scale
        Denominator per column; by default the pooled SD ``sqrt((s1² + s0²) / 2)`` of the
        unweighted arms, which keeps before and after on the same scale.

    Returns
    -------
    numpy.ndarray
        One SMD per column; 0 where the scale is 0.

    Examples
    --------
    >>> W = np.array([[0.0], [1.0], [2.0], [3.0]]); t = np.array([0, 0, 1, 1])
    >>> round(float(standardized_differences(W, t)[0]), 3)
    2.828
    """
    t = np.asarray(t).astype(bool)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, dtype=float)
    if scale is None:
        scale = np.sqrt((W[t].var(axis=0) + W[~t].var(axis=0)) / 2)
    mean1 = np.average(W[t], axis=0, weights=w[t])
    mean0 = np.average(W[~t], axis=0, weights=w[~t])
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(scale > 0, (mean1 - mean0) / np.where(scale > 0, scale, 1.0), 0.0)
    return d


def balance(data: DesignData, e: np.ndarray, keep: np.ndarray, estimand: Estimand) -> BalanceResult:
    """Covariate balance before (raw, whole sample) and after weighting (analysed population).

    Parameters
    ----------
    data
        The covariates the analysis adjusts for.
    e
        Cross-fitted propensities, clipped as the weights use them.
    keep
        The analysed population (after trimming).
    estimand
        Chooses the weights: inverse propensity, odds, or overlap.

    Returns
    -------
    BalanceResult
        SMD per covariate before and after, their maxima with statuses (judged on the largest
        |SMD| after weighting), the arms' effective sample sizes, and a message.
    """
    t = data.t.astype(bool)
    scale = np.sqrt((data.W[t].var(axis=0) + data.W[~t].var(axis=0)) / 2)
    before = standardized_differences(data.W, data.t, scale=scale)
    w = estimand_weights(e[keep], data.t[keep], estimand)
    after = standardized_differences(data.W[keep], data.t[keep], w, scale=scale)
    rows = tuple(SMDRow(name, float(b), float(a)) for name, b, a in zip(data.names, before, after))
    tk = data.t[keep].astype(bool)
    ess1, ess0 = _ess(w[tk]), _ess(w[~tk])
    n1, n0 = int(tk.sum()), int((~tk).sum())
    weak = [
        f"{arm} {ess:.0f} of {n}"
        for arm, ess, n in (("treated", ess1, n1), ("controls", ess0, n0))
        if ess < ESS_WARN_SHARE * n
    ]
    ess_note = (
        f" The weights concentrate on few units (effective sample size {', '.join(weak)}): extreme propensities "
        "make a handful of units stand for many."
        if weak
        else ""
    )
    max_before = float(np.max(np.abs(before))) if len(rows) else 0.0
    max_after = float(np.max(np.abs(after))) if len(rows) else 0.0
    status = _status(max_after, SMD_PASS_BELOW, SMD_FAIL_AT)
    worst = sorted(rows, key=lambda r: -abs(r.after))
    offenders = [r for r in worst if abs(r.after) >= SMD_PASS_BELOW]
    shown = ", ".join(f"{r.name} {r.after:+.2f}" for r in offenders[:4])
    if status is Status.PASS:
        message = (
            f"Balanced: after {_WEIGHT_NAMES[estimand].split(' ')[0]} weighting every covariate's |SMD| is below "
            f"{SMD_PASS_BELOW} (largest {max_after:.3f}, from {max_before:.2f} before). The weighted arms look "
            "alike on what was measured."
        )
    elif status is Status.WARN:
        message = (
            f"Residual imbalance: {len(offenders)} covariate(s) keep |SMD| between {SMD_PASS_BELOW} and "
            f"{SMD_FAIL_AT} after weighting ({shown}). The outcome model must carry the adjustment for them; "
            "try another propensity learner or trimming."
        )
    else:
        message = (
            f"Imbalanced: after weighting {len(offenders)} covariate(s) still differ by |SMD| ≥ {SMD_PASS_BELOW}, "
            f"the worst {max_after:.2f} ≥ {SMD_FAIL_AT} ({shown}). The propensity model does not balance the "
            "arms: switch the propensity learner, or trim to the overlap population."
        )
    message += ess_note
    return BalanceResult(
        weights=_WEIGHT_NAMES[estimand],
        rows=rows,
        max_before=max_before,
        max_after=max_after,
        status_before=_status(max_before, SMD_PASS_BELOW, SMD_FAIL_AT),
        status=status,
        pass_below=SMD_PASS_BELOW,
        fail_at=SMD_FAIL_AT,
        message=message,
        ess_treated=ess1,
        ess_control=ess0,
        n_treated=n1,
        n_control=n0,
    )


def overlap(e: np.ndarray, t: np.ndarray, keep: np.ndarray, estimand: Estimand, bins: int = HIST_BINS) -> OverlapResult:
    """Propensity overlap: histogram by arm and the share outside [0.1, 0.9].

    The status judges the analysed population (after the spec's trimming) by what the
    estimand needs: for the ATE every unit outside the bounds counts; for the ATT only
    treated units above the upper bound (treated units with almost no comparable controls);
    for the ATO a failure is downgraded to a warning, because overlap weights shrink such
    units to nothing.

    Parameters
    ----------
    e
        Cross-fitted propensities of every unit.
    t
        Treatment, 0/1.
    keep
        The analysed population (a boolean mask).
    estimand
        Chooses which units count (see above).
    bins
        Histogram bins over [0, 1].

    Returns
    -------
    OverlapResult
        Shares outside the bounds (overall, per arm, analysed, below and above), the
        propensity range, the histogram, the status and a message.
    """
    t = np.asarray(t).astype(bool)
    low, high = OVERLAP_BOUNDS
    outside = (e < low) | (e > high)
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts_t, _ = np.histogram(e[t], bins=edges)
    counts_c, _ = np.histogram(e[~t], bins=edges)
    kept_t = t[keep]
    if estimand is Estimand.ATT:
        relevant = float((e[keep][kept_t] > high).mean()) if kept_t.any() else 0.0
    else:
        relevant = float(outside[keep].mean())
    status = _status(relevant, OVERLAP_PASS_BELOW, OVERLAP_FAIL_ABOVE + 1e-12)
    if estimand is Estimand.ATO and status is Status.FAIL:
        status = Status.WARN
    share_all = float(outside.mean())
    trimmed = keep.sum() < len(keep)
    if estimand is Estimand.ATT:
        where = "of the treated" + (" (after trimming)" if trimmed else "")
        what = "have propensity above 0.9"
    else:
        where = "of the analysed (trimmed) population" if trimmed else "of the sample"
        what = "have propensity outside [0.1, 0.9]"
    if status is Status.PASS:
        message = f"Good overlap: {relevant:.1%} {where} {what} (pass below {OVERLAP_PASS_BELOW:.0%})."
        if trimmed and share_all >= OVERLAP_PASS_BELOW:
            message += f" Trimming removed the {share_all:.1%} of the whole sample that lay outside."
    elif status is Status.WARN:
        message = (
            f"Limited overlap: {relevant:.1%} {where} {what}. Their comparisons rest on few "
            "counterparts and on the outcome model's extrapolation"
            + (
                "; overlap weights keep them from dominating."
                if estimand is Estimand.ATO
                else "; consider trimming to [0.1, 0.9] (the estimand becomes the overlap population, ATO)."
            )
        )
    else:
        message = (
            f"Poor overlap: {relevant:.1%} {where} {what} (fail above {OVERLAP_FAIL_ABOVE:.0%}). "
            "For them one arm has almost no comparable units, so the estimate leans on extreme weights or "
            "extrapolation. Trim to [0.1, 0.9] (Crump), which changes the estimand to the overlap population "
            '(ATO), or use overlap weights (estimand = "ATO").'
        )
    return OverlapResult(
        bounds=OVERLAP_BOUNDS,
        share_outside=share_all,
        share_outside_treated=float(outside[t].mean()) if t.any() else 0.0,
        share_outside_control=float(outside[~t].mean()) if (~t).any() else 0.0,
        share_outside_analysed=float(outside[keep].mean()) if keep.any() else 0.0,
        share_below=float((e < low).mean()),
        share_above=float((e > high).mean()),
        min_propensity=float(e.min()),
        max_propensity=float(e.max()),
        bin_edges=tuple(float(x) for x in edges),
        counts_treated=tuple(int(c) for c in counts_t),
        counts_control=tuple(int(c) for c in counts_c),
        status=status,
        pass_below=OVERLAP_PASS_BELOW,
        fail_above=OVERLAP_FAIL_ABOVE,
        message=message,
    )


def trimming_curve(
    fit: NuisanceFit, estimand: Estimand, thresholds: tuple[float, ...] = TRIM_THRESHOLDS
) -> TrimmingResult:
    """Crump-style trimming sensitivity: the estimate over [α, 1 − α] for each threshold α.

    The nuisance models are fitted once on everyone; each point averages the doubly-robust
    score over the kept units (as EconML's ``trimming_threshold`` does). Points where an
    arm vanishes are skipped.

    Parameters
    ----------
    fit
        Cross-fitted nuisances from :func:`~engine.design.estimate.fit_dr`.
    estimand
        The estimand (an ATE over a trimmed population is labelled ATO).
    thresholds
        The α values; a point whose kept population has fewer than two units in an arm is left out.

    Returns
    -------
    TrimmingResult
        The points, the largest shift from the untrimmed estimate (or from the first point, when
        α = 0 is missing) in its standard errors, and a pass, a warning above
        :data:`TRIM_SHIFT_PASS_SE` or a failure above :data:`TRIM_SHIFT_FAIL_SE` (its 95 % half-width).
    """
    estimates: dict[float, DREstimate] = {}
    for alpha in thresholds:
        keep = fit.keep(alpha, 1.0 - alpha)
        t = fit.data.t[keep]
        if t.sum() < 2 or (1 - t).sum() < 2:
            continue
        estimates[float(alpha)] = estimate_effect(fit, estimand, keep)
    points = [TrimPoint(a, e.estimand, e.effect, e.ci_low, e.ci_high, e.n) for a, e in estimates.items()]
    base = next((p for p in points if p.threshold == 0.0), points[0])
    # the sampling SE, not the interval: an extrapolation allowance must not hide a move it explains
    se0 = max(estimates[base.threshold].se, 1e-12)
    shift = max(abs(p.effect - base.effect) for p in points) / se0
    last = points[-1]
    if shift <= TRIM_SHIFT_PASS_SE:
        status = Status.PASS
        message = (
            f"Stable under trimming: from no trimming to α = {last.threshold:g} (n {base.n} → {last.n}) the "
            f"estimate moves by at most {shift:.2f} standard errors. Who is in the population does not drive the answer."
        )
    elif shift > TRIM_SHIFT_FAIL_SE:
        status = Status.FAIL
        message = (
            f"Driven by the extreme propensities: the estimate moves by up to {shift:.1f} standard errors between no "
            f"trimming ({base.effect:.3g}, n {base.n}) and α = {last.threshold:g} ({last.effect:.3g}, n {last.n}), "
            "past its own 95 % interval. The answer rests on units that have no comparable counterparts in the "
            "other arm, through extreme weights or the outcome model's extrapolation; estimate the overlap "
            'population instead (estimand = "ATO", labelled) or improve the propensity model.'
        )
    else:
        status = Status.WARN
        message = (
            f"Sensitive to trimming: the estimate moves by up to {shift:.1f} standard errors between no trimming "
            f"({base.effect:.3g}, n {base.n}) and α = {last.threshold:g} ({last.effect:.3g}, n {last.n}). The units "
            "with extreme propensities pull the answer; report the trimmed (overlap, ATO) estimate and say that "
            "it describes a narrower population than the one asked about."
        )
    return TrimmingResult(points=tuple(points), max_shift_se=float(shift), status=status, message=message)


def placebo_outcome(frame: pd.DataFrame, contract: Contract, spec: AnalysisSpec, column: str) -> PlaceboOutcomeResult:
    """The doubly-robust 'effect' of the treatment on a pre-treatment column, which must be null.

    The column is dropped from the covariates for this fit (it is the outcome now). A
    non-null effect means the covariates leave a difference between the arms in something
    the treatment cannot have caused — so they may leave one in the real outcome too.

    Parameters
    ----------
    frame
        The problem's data.
    contract
        The causal contract.
    spec
        The analysis spec: covariates, learners, folds, seed, estimand and trimming.
    column
        The pre-treatment column to use as the outcome.

    Returns
    -------
    PlaceboOutcomeResult
        The effect and its interval, the column's SD and the effect in SDs; pass when the
        interval covers 0 and the effect is under :data:`PLACEBO_STD_MAX` SD, a warning when
        only one holds, else a failure.

    Raises
    ------
    SpecError
        When ``column`` is the only covariate, an arm is too small for the folds, or trimming
        leaves only one arm.
    """
    covariates = tuple(c for c in spec.resolved_covariates(contract) if c != column)
    if not covariates:
        raise SpecError(f"placebo outcome {column!r} is the only covariate; add other covariates to test it")
    data = prepare(frame, contract, covariates, outcome=column)
    fit = fit_dr(data, spec)
    est = estimate_effect(fit, spec.estimand, fit.keep(*spec.trim))
    sd = float(np.std(data.y))
    std_effect = est.effect / sd if sd > 0 else 0.0
    covers = est.covers(0.0)
    small = abs(std_effect) < PLACEBO_STD_MAX
    ci = f"{est.effect:.3g} (95 % CI {est.ci_low:.3g} to {est.ci_high:.3g}; {std_effect:+.2f} SD)"
    if covers and small:
        status = Status.PASS
        message = (
            f"Null as it should be: the 'effect' on pre-treatment {column} is {ci}. The covariates leave no "
            "trace of a difference in this column, which supports (not proves) that they capture the confounding."
        )
    elif covers or small:
        status = Status.WARN
        why = "the interval excludes zero, though the effect is tiny" if small else "the interval is wide"
        message = (
            f"Inconclusive placebo: the 'effect' on pre-treatment {column} is {ci}; {why}. Read the main "
            "estimate with care; a sharper placebo needs more data or a column closer to the outcome."
        )
    else:
        status = Status.FAIL
        message = (
            f"Placebo failed: the treatment 'affects' pre-treatment {column}: {ci}. It cannot have, so the arms "
            "still differ in something the covariates miss — the main estimate is likely confounded too. Look "
            "for a missing confounder; adjusting for this column itself hides the symptom, not the cause."
        )
    return PlaceboOutcomeResult(column, est.effect, est.ci_low, est.ci_high, sd, float(std_effect), status, message)
