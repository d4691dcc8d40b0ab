"""The sanity net: is the doubly-robust number believable before anyone reads the diagnostics?

A DR estimate combines an outcome model and propensity weights; landing between the
estimates each part gives alone is a compromise, but landing *outside both*, further than
its own half-width, means the weighted-residual correction overshot — the signature of
extreme weights or a separated propensity model. So does an interval wider than the
outcome itself varies. Either way the number should not be read as an answer. :func:`sanity_check` puts the outcome-model-only
(plug-in) and the weighting-only (normalised IPW) estimates beside it, with the weights'
effective sample size, the largest weight's share and the propensity model's calibration.
The critic reads the result; a ``fail`` makes the estimate *not credible* on every screen.
"""

from __future__ import annotations

import numpy as np

from engine.design.estimate import NuisanceFit
from engine.design.results import DREstimate, SanityCheck, Status
from engine.problem import Estimand

ESS_WARN_SHARE = 0.1
"""An arm whose weights leave under a tenth of it as effective sample is leaning on a few units."""
CALIBRATION_BINS = 10


def sanity_check(fit: NuisanceFit, estimate: DREstimate, keep: np.ndarray, estimand: Estimand) -> SanityCheck:
    """The plug-in and IPW estimates beside the DR one, the weights' health, and a verdict.

    Parameters
    ----------
    fit
        Cross-fitted nuisances.
    estimate
        The DR estimate computed from them.
    keep
        The analysed population (after trimming).
    estimand
        The estimand the spec asked for (it sets the population and the weights).

    Returns
    -------
    SanityCheck
        ``fail`` (not credible) when the DR estimate lies outside the range of the other two by
        more than its half-width, or its interval is wider than the outcome's standard
        deviation; ``warn`` when it is further than its half-width from one of them, or an
        arm's effective sample is small.
    """
    y, t = fit.data.y[keep], fit.data.t[keep].astype(bool)
    e, m0, m1 = fit.e_clipped[keep], fit.m0[keep], fit.m1[keep]
    if estimand is Estimand.ATT:
        w1, w0 = np.ones(t.sum()), (e / (1 - e))[~t]
        plug_in = float((m1 - m0)[t].mean())
    elif estimand is Estimand.ATO:
        w1, w0 = (1 - e)[t], e[~t]
        h = e * (1 - e)
        plug_in = float((h * (m1 - m0)).sum() / h.sum())
    else:
        w1, w0 = 1 / e[t], (1 / (1 - e))[~t]
        plug_in = float((m1 - m0).mean())
    ipw = float(np.average(y[t], weights=w1) - np.average(y[~t], weights=w0))
    ess_share = min(_kish(w1) / len(w1), _kish(w0) / len(w0))
    top = max(w1.max() / w1.sum(), w0.max() / w0.sum())
    calibration = _calibration_error(fit.e[keep], t)
    sd = float(np.std(y, ddof=1))
    # Sampling uncertainty only: the plug-in and the DR share the extrapolation the allowance is
    # for, so the allowance must not excuse a disagreement, nor count as a blown-up interval.
    half = estimate.sampling_half_width
    far_plug, far_ipw = abs(estimate.effect - plug_in) > half, abs(estimate.effect - ipw) > half
    beyond = max(0.0, min(plug_in, ipw) - estimate.effect, estimate.effect - max(plug_in, ipw))
    width = 2 * half
    figures = (
        f"DR {estimate.effect:.3g} ± {half:.3g} (sampling), outcome model alone {plug_in:.3g}, weighting alone {ipw:.3g}; "
        f"smallest arm's effective sample {ess_share:.0%}, largest weight {top:.1%} of its arm, "
        f"propensity calibration off by {calibration:.3f} on average"
    )
    if beyond > half or width > sd:
        why = (
            f"its 95 % sampling interval ({width:.3g} wide) is wider than the outcome's standard deviation ({sd:.3g})"
            if width > sd
            else "it lies outside the range of the outcome-model and the weighting estimates, by more than its own "
            "half-width"
        )
        status, credible = Status.FAIL, False
        message = (
            f"Not credible: {why} ({figures}). Extreme weights or a propensity model that separates the arms "
            "usually cause this; clip the propensities (min_propensity), use a regularised propensity learner, "
            "or switch to overlap weights (ATO)."
        )
    elif far_plug or far_ipw or ess_share < ESS_WARN_SHARE:
        status, credible = Status.WARN, True
        which = "the outcome model alone" if far_plug else "weighting alone" if far_ipw else None
        message = (
            f"The DR estimate disagrees with {which}; " if which else "The weights lean on a few units; "
        ) + f"read it with the diagnostics ({figures})."
    else:
        status, credible = Status.PASS, True
        message = f"The DR estimate agrees with its parts ({figures})."
    return SanityCheck(
        dr=estimate.effect,
        dr_half_width=half,
        plug_in=plug_in,
        ipw=ipw,
        outcome_sd=sd,
        ess_share=float(ess_share),
        top_weight_share=float(top),
        calibration_error=calibration,
        credible=credible,
        status=status,
        message=message,
    )


def _kish(w: np.ndarray) -> float:
    """Kish's effective sample size of a set of weights."""
    return float(w.sum() ** 2 / (w**2).sum())


def _calibration_error(e: np.ndarray, t: np.ndarray) -> float:
    """Mean |observed − predicted| treatment rate over propensity deciles, weighted by bin size."""
    edges = np.unique(np.quantile(e, np.linspace(0, 1, CALIBRATION_BINS + 1)))
    bins = np.clip(np.searchsorted(edges, e, side="right") - 1, 0, max(len(edges) - 2, 0))
    gaps = [abs(t[bins == b].mean() - e[bins == b].mean()) * (bins == b).sum() for b in np.unique(bins)]
    return float(sum(gaps) / len(e))
