"""DoWhy's four refuters, re-implemented on our EconML pipeline (no dowhy dependency).

Each refuter changes the data in a way whose right answer is known, re-runs the same
doubly-robust analysis (same learners, folds, estimand and trimming), and checks the
answer:

* placebo treatment — the treatment replaced by a random permutation of itself: the
  effect must vanish (not significant at 1 %, or under a tenth of the original);
* random common cause — an extra covariate of pure noise: the effect must barely move;
* data subset — the analysis on random 80 % subsets: the effect must stay put;
* dummy outcome — the outcome replaced by noise independent of everything: the effect
  must vanish.

They test the *estimation machinery*, not the assumptions: a pass says the pipeline does
not manufacture effects from nothing and is not driven by a handful of rows; it cannot
say that no confounder was missed (that is what the sensitivity analysis is for). In
particular a post-treatment covariate does not make the placebo-treatment refuter fail —
permuting the treatment breaks its tie to that covariate — which is why the guard keeps
forbidden columns out before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from engine.design.estimate import DesignData, estimate_effect, fit_dr
from engine.design.results import DREstimate, RefuterResult
from engine.design.spec import AnalysisSpec
from engine.problem import Estimand

# Placebo treatment and dummy outcome: the new 'effect' must be null. One refit per refuter
# would flag 5 % of sound analyses at the usual 95 % level, so a refuter fails only when the
# new effect is significant at the 1 % level AND at least a tenth of the original estimate.
NULL_Z = 2.5758293035489
NEGLIGIBLE_SHARE = 0.1
# Random common cause: the estimate may move by less than this many of its standard errors.
COMMON_CAUSE_MAX_SHIFT_SE = 1.0
# Data subset: share of rows kept, and how many subsets (each must land inside the original 95 % CI).
SUBSET_FRACTION = 0.8
SUBSET_REPEATS = 3

READINGS = {
    "placebo_treatment": (
        "Pass: with the treatment shuffled at random the analysis finds no effect ({new}), as it must — the "
        "pipeline does not manufacture effects from the covariates or the outcome alone.",
        "FAIL: a shuffled treatment still shows an 'effect' ({new}). Something other than the treatment "
        "carries the association — a covariate built from the outcome or the treatment (leakage), or an "
        "overfitting learner. Do not trust the main estimate until this is found.",
    ),
    "random_common_cause": (
        "Pass: adding a covariate of pure noise moved the estimate by {shift:.2f} SE ({orig} → {new}). The "
        "estimate is not fragile to irrelevant inputs.",
        "FAIL: adding a covariate of pure noise moved the estimate by {shift:.2f} SE ({orig} → {new}). The "
        "learners are unstable (too flexible for the data, or too few folds); change the outcome learner or "
        "raise folds before reading the estimate.",
    ),
    "data_subset": (
        "Pass: on random {pct:.0%} subsets the estimate stays inside the original interval ({new}). No small "
        "group of rows drives the answer.",
        "FAIL: on random {pct:.0%} subsets the estimate leaves the original interval ({new}). A few rows "
        "(often units with extreme propensities) drive the answer; look at overlap and consider trimming.",
    ),
    "dummy_outcome": (
        "Pass: with the outcome replaced by noise the analysis finds no effect ({new}), as it must.",
        "FAIL: with the outcome replaced by noise the analysis still finds an 'effect' ({new}). The estimator "
        "is biased by construction (e.g. extreme weights or a degenerate propensity model); fix the design "
        "before reading any estimate.",
    ),
}

TITLES = {
    "placebo_treatment": "Placebo treatment (permuted)",
    "random_common_cause": "Random common cause",
    "data_subset": "Data subset (80 %)",
    "dummy_outcome": "Dummy outcome (noise)",
}


def _fmt(est: DREstimate) -> str:
    return f"{est.effect:.3g}, 95 % CI {est.ci_low:.3g} to {est.ci_high:.3g}"


def _rerun(data: DesignData, spec: AnalysisSpec, estimand: Estimand) -> DREstimate:
    fit = fit_dr(data, spec)
    return estimate_effect(fit, estimand, fit.keep(*spec.trim))


def _result(name: str, original: DREstimate, new: DREstimate, expected: float, passed: bool, **fmt) -> RefuterResult:
    reading = READINGS[name][0 if passed else 1].format(new=_fmt(new), orig=f"{original.effect:.3g}", **fmt)
    return RefuterResult(
        name=name,
        title=TITLES[name],
        original=original.effect,
        estimate=new.effect,
        ci_low=new.ci_low,
        ci_high=new.ci_high,
        expected=expected,
        passed=passed,
        reading=reading,
    )


def null_passes(new: DREstimate, original: DREstimate) -> bool:
    """Whether a refit that should find nothing does: not significant at 1 %, or negligible.

    Parameters
    ----------
    new
        The refit's estimate.
    original
        The analysis's own estimate.

    Returns
    -------
    bool
        True when ``|effect / se| < NULL_Z`` (a zero SE counts as significant unless the
        effect is exactly 0) or ``|effect|`` is under a tenth of the original's.
    """
    z = abs(new.effect) / new.se if new.se > 0 else (0.0 if new.effect == 0 else np.inf)
    return bool(z < NULL_Z or abs(new.effect) < NEGLIGIBLE_SHARE * abs(original.effect))


def placebo_treatment_vector(t: np.ndarray, seed: int) -> np.ndarray:
    """The placebo treatment: a seeded random permutation of ``t`` (same number treated).

    Parameters
    ----------
    t
        The treatment.
    seed
        The spec's seed (the generator is seeded with ``[seed, 1]``).

    Returns
    -------
    numpy.ndarray
    """
    return np.random.default_rng([seed, 1]).permutation(t)


def placebo_treatment(data: DesignData, spec: AnalysisSpec, original: DREstimate) -> RefuterResult:
    """Permute the treatment and re-estimate; passes when the new effect is null (see :func:`null_passes`).

    Parameters
    ----------
    data
        The analysis's data.
    spec
        The analysis spec (learners, folds, seed, estimand, trimming).
    original
        The analysis's own estimate.

    Returns
    -------
    RefuterResult

    Raises
    ------
    SpecError
        When the refit cannot be cross-fitted or trimming leaves one arm.
    """
    return judge("placebo_treatment", original, REFITS["placebo_treatment"](data, spec))


def random_common_cause(data: DesignData, spec: AnalysisSpec, original: DREstimate) -> RefuterResult:
    """Add a standard-normal covariate and re-estimate; passes when the estimate moves < 1 SE.

    Parameters
    ----------
    data
        The analysis's data.
    spec
        The analysis spec (learners, folds, seed, estimand, trimming).
    original
        The analysis's own estimate; the shift is measured in its standard errors.

    Returns
    -------
    RefuterResult

    Raises
    ------
    SpecError
        When the refit cannot be cross-fitted or trimming leaves one arm.
    """
    return judge("random_common_cause", original, REFITS["random_common_cause"](data, spec))


def data_subset(
    data: DesignData,
    spec: AnalysisSpec,
    original: DREstimate,
    *,
    fraction: float = SUBSET_FRACTION,
    repeats: int = SUBSET_REPEATS,
) -> RefuterResult:
    """Re-estimate on ``repeats`` random subsets; passes when every estimate is inside the original CI.

    Parameters
    ----------
    data
        The analysis's data.
    spec
        The analysis spec (learners, folds, seed, estimand, trimming).
    original
        The analysis's own estimate.
    fraction
        Share of the rows in each subset, drawn without replacement.
    repeats
        Number of subsets.

    Returns
    -------
    RefuterResult
        Its estimate is the mean of the subset estimates and its "interval" their range;
        ``detail`` lists every subset's estimate.

    Raises
    ------
    SpecError
        When a subset cannot be cross-fitted or trimming leaves one arm.
    """
    estimates = [subset_estimate(data, spec, rows) for rows in subset_rows(data.n, spec.seed, fraction, repeats)]
    return summarise_subsets(data, original, estimates, fraction)


def subset_rows(n: int, seed: int, fraction: float, repeats: int) -> list[np.ndarray]:
    """The rows of each random subset, drawn in order from one generator seeded with ``[seed, 3]``.

    Parameters
    ----------
    n
        Rows in the data.
    seed
        The spec's seed.
    fraction, repeats
        Share of the rows per subset, and how many subsets.

    Returns
    -------
    list of numpy.ndarray
        Sorted row indices, one array per subset: the same whether the subsets are then
        fitted one after another or side by side.
    """
    rng = np.random.default_rng([seed, 3])
    return [np.sort(rng.choice(n, size=int(round(fraction * n)), replace=False)) for _ in range(repeats)]


def subset_estimate(data: DesignData, spec: AnalysisSpec, rows: np.ndarray) -> DREstimate:
    """The analysis refitted on one subset of rows (see :func:`subset_rows`).

    Parameters
    ----------
    data
        The analysis's data.
    spec
        The analysis spec.
    rows
        The subset's row indices.

    Returns
    -------
    DREstimate

    Raises
    ------
    SpecError
        When the subset cannot be cross-fitted or trimming leaves one arm.
    """
    return _rerun(data.subset(rows), spec, spec.estimand)


def summarise_subsets(
    data: DesignData, original: DREstimate, estimates: list[DREstimate], fraction: float
) -> RefuterResult:
    """The data-subset refuter's verdict from its subset estimates (see :func:`data_subset`).

    Parameters
    ----------
    data
        The analysis's data (for the full row count).
    original
        The analysis's own estimate.
    estimates
        One estimate per subset, in the order of :func:`subset_rows`.
    fraction
        Share of the rows in each subset.

    Returns
    -------
    RefuterResult
    """
    repeats = len(estimates)
    effects = np.array([e.effect for e in estimates])
    passed = bool(all(original.covers(x) for x in effects))
    mean = float(effects.mean())
    summary = DREstimate(
        estimand=original.estimand,
        requested=original.requested,
        effect=mean,
        se=float(np.mean([e.se for e in estimates])),
        ci_low=float(effects.min()),
        ci_high=float(effects.max()),
        n=estimates[0].n,
        n_total=data.n,
        n_treated=estimates[0].n_treated,
        n_control=estimates[0].n_control,
        method="mean of subset estimates; the 'interval' is their range",
    )
    result = _result("data_subset", original, summary, original.effect, passed, pct=fraction)
    detail = f"{repeats} subsets of {fraction:.0%}: " + ", ".join(f"{x:.3g}" for x in effects)
    # The range of subset estimates is not a confidence interval; say so in the reading.
    reading = result.reading.replace(
        _fmt(summary), f"mean {mean:.3g}, range {effects.min():.3g} to {effects.max():.3g}"
    )
    return replace(result, detail=detail, reading=reading)


def dummy_outcome(data: DesignData, spec: AnalysisSpec, original: DREstimate) -> RefuterResult:
    """Replace the outcome by noise with the outcome's mean and spread; passes when the new effect is null.

    A binary outcome is replaced by Bernoulli draws at its mean rate, a continuous one by
    normal draws with its mean and standard deviation.

    Parameters
    ----------
    data
        The analysis's data.
    spec
        The analysis spec (learners, folds, seed, estimand, trimming).
    original
        The analysis's own estimate.

    Returns
    -------
    RefuterResult

    Raises
    ------
    SpecError
        When the refit cannot be cross-fitted or trimming leaves one arm.
    """
    return judge("dummy_outcome", original, REFITS["dummy_outcome"](data, spec))


REFUTERS = ("placebo_treatment", "random_common_cause", "data_subset", "dummy_outcome")


# --------------------------------------------------------------------------- refits apart from judgments
# A refit needs only the data and the resolved spec, not the analysis' own estimate, so the
# design run starts the refits beside the main fit and judges them once the estimate is in.


def _placebo_treatment_refit(data: DesignData, spec: AnalysisSpec) -> DREstimate:
    return _rerun(replace(data, t=placebo_treatment_vector(data.t, spec.seed)), spec, spec.estimand)


def _random_common_cause_refit(data: DesignData, spec: AnalysisSpec) -> DREstimate:
    noise = np.random.default_rng([spec.seed, 2]).standard_normal(data.n)
    bigger = replace(data, W=np.column_stack([data.W, noise]), names=data.names + ("random_common_cause",))
    return _rerun(bigger, spec, spec.estimand)


def _dummy_outcome_refit(data: DesignData, spec: AnalysisSpec) -> DREstimate:
    rng = np.random.default_rng([spec.seed, 4])
    if data.discrete_outcome:
        y = (rng.random(data.n) < data.y.mean()).astype(float)
    else:
        y = rng.normal(data.y.mean(), data.y.std() or 1.0, data.n)
    return _rerun(replace(data, y=y), spec, spec.estimand)


REFITS: dict[str, Callable[[DesignData, AnalysisSpec], DREstimate]] = {
    "placebo_treatment": _placebo_treatment_refit,
    "random_common_cause": _random_common_cause_refit,
    "dummy_outcome": _dummy_outcome_refit,
}
"""The refuters that are one refit each (the data-subset refuter is several: :func:`subset_estimate`)."""


def judge(name: str, original: DREstimate, new: DREstimate) -> RefuterResult:
    """A refit's verdict against the analysis' own estimate.

    Parameters
    ----------
    name
        One of :data:`REFITS`.
    original
        The analysis's own estimate.
    new
        The refit's estimate.

    Returns
    -------
    RefuterResult
        Placebo treatment and dummy outcome pass when the refit finds nothing (:func:`null_passes`);
        a random common cause passes when it moves the estimate less than
        :data:`COMMON_CAUSE_MAX_SHIFT_SE` standard errors.
    """
    if name == "random_common_cause":
        shift = abs(new.effect - original.effect) / max(original.se, 1e-12)
        return _result(name, original, new, original.effect, shift < COMMON_CAUSE_MAX_SHIFT_SE, shift=shift)
    return _result(name, original, new, 0.0, null_passes(new, original))
