"""The doubly-robust estimate: EconML's DR learners with cross-fitting.

EconML fits the nuisance models — a propensity model e(x) and an outcome model
m(x, t) — on ``folds`` cross-fitting folds that we choose (stratified on the
treatment, seeded), so each unit's nuisance predictions come from the model that did
not see it. From those out-of-fold predictions every estimand is the mean of a
doubly-robust score over a population:

* ATE — the AIPW score ``m1 − m0 + t(y − m1)/e − (1 − t)(y − m0)/(1 − e)``; with
  ``estimator = "linear_dr"`` and no trimming this is exactly EconML's
  ``LinearDRLearner.ate()`` and its interval (a test checks it);
* ATT — the DR score for the treated, ``[t(y − m0) − (1 − t)·e/(1 − e)·(y − m0)] / P(t = 1)``;
* ATO — overlap weights ``h = e(1 − e)``: ``Σ h·score / Σ h``, bounded even where e is near 0 or 1.

Where a run of units has no one like them in the other arm, their missing outcome is the outcome
model's extrapolation, which no weight corrects; the interval then widens by an allowance for it
(:func:`engine.design.support.extrapolation_allowance`) and says so.

Trimming keeps units whose cross-fitted propensity lies in ``[low, high]`` and averages
the scores over them (Crump et al. 2009; EconML's ``trimming_threshold`` does the
same); when units are dropped an ATE is relabelled ATO. With ``estimator = "dr"``,
``DRLearner`` fits a CATE linear in the covariates and ATE/ATT are its average over the
population with EconML's own (conservative) interval.

Binary outcomes use a classifier for the outcome model with ``discrete_outcome=True``
(EconML supports it for DR learners); nuisance models are always explicit sklearn
estimators, so no 'auto' model selection and no FutureWarnings.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from engine.design.results import DREstimate, LearnerLoss, PropensityChoice
from engine.design.spec import AnalysisSpec, Estimator, OutcomeLearner, PropensityLearner
from engine.design.support import extrapolation_allowance, without_counterpart
from engine.problem import Contract, Estimand, OutcomeType, build_model_data

Z95 = 1.959963984540054
MIN_ARM_SIZE = 5  # fewer treated or control units than this per fold cannot be cross-fitted

AUTO_CANDIDATES = (PropensityLearner.LOGISTIC, PropensityLearner.GRADIENT_BOOSTING)
"""What ``propensity_learner = "auto"`` chooses between."""


@dataclass(frozen=True)
class DesignData:
    """What the estimators see: outcome, treatment and the encoded covariates."""

    y: np.ndarray
    t: np.ndarray
    W: np.ndarray  # design matrix: continuous standardised, binary 0/1, categorical one-hot
    names: tuple[str, ...]  # columns of W
    outcome: str
    discrete_outcome: bool

    @property
    def n(self) -> int:
        return len(self.y)

    def subset(self, rows: np.ndarray) -> DesignData:
        """The same data restricted to ``rows``.

        Parameters
        ----------
        rows
            A boolean mask or integer indexes into the units.

        Returns
        -------
        DesignData
        """
        return replace(self, y=self.y[rows], t=self.t[rows], W=self.W[rows])


def prepare(
    frame: pd.DataFrame,
    contract: Contract,
    covariates: tuple[str, ...],
    *,
    outcome: str | None = None,
) -> DesignData:
    """Encode ``covariates`` of ``frame`` for the learners (via :func:`engine.problem.build_model_data`).

    Parameters
    ----------
    frame
        The problem's data.
    contract
        The causal contract (for encodings and the treatment).
    covariates
        The controls to adjust for; every other column is dropped.
    outcome
        Column to use as outcome; the contract's outcome by default. A placebo column is
        always treated as continuous (a regressor on its values, 0/1 included).

    Returns
    -------
    DesignData
        ``discrete_outcome`` is True only for the contract's own outcome when it is binary.
    """
    sub = replace(
        contract,
        controls=tuple(covariates),
        categorical=tuple(c for c in contract.categorical if c in covariates),
    )
    md = build_model_data(frame, sub)
    target = outcome or contract.outcome
    y = frame[target].to_numpy(dtype=float)
    discrete = target == contract.outcome and contract.outcome_type is OutcomeType.BINARY
    return DesignData(
        y=y,
        t=md.t.astype(int),
        W=md.X.to_numpy(dtype=float),
        names=tuple(md.X.columns),
        outcome=target,
        discrete_outcome=discrete,
    )


# --------------------------------------------------------------------------- learners


def propensity_model(kind: PropensityLearner, seed: int) -> Any:
    """The sklearn classifier for e(x) = P(t = 1 | x).

    Parameters
    ----------
    kind
        Logistic regression (on standardised inputs), gradient boosting (histogram-based,
        early-stopped) or a random forest.
    seed
        ``random_state`` of the tree ensembles.

    Returns
    -------
    sklearn estimator
        Unfitted.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind is PropensityLearner.AUTO:
        raise ValueError("resolve propensity_learner = auto with choose_propensity before building a model")
    if kind is PropensityLearner.LOGISTIC:
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    if kind is PropensityLearner.GRADIENT_BOOSTING:
        # Histogram boosting stopped early on a held-out tenth's log-loss: regularised, and about
        # five times faster than GradientBoostingClassifier at the same cross-validated log-loss.
        return HistGradientBoostingClassifier(learning_rate=0.05, max_iter=300, early_stopping=True, random_state=seed)
    return RandomForestClassifier(n_estimators=200, min_samples_leaf=5, random_state=seed, n_jobs=1)


def choose_propensity(data: DesignData, folds: list[tuple[np.ndarray, np.ndarray]], seed: int) -> PropensityChoice:
    """Pick logistic regression or gradient boosting by out-of-fold log-loss of the treatment.

    Only the treatment and covariates enter (never the outcome), on the analysis' own
    cross-fitting folds: the learner that predicts assignment better gives the better weights.

    Parameters
    ----------
    data
        Treatment and covariates.
    folds
        The cross-fitting folds.
    seed
        Seed of the boosting learner.

    Returns
    -------
    PropensityChoice
        The winner and each candidate's mean log-loss.
    """
    from sklearn.model_selection import cross_val_score

    losses = {}
    for kind in AUTO_CANDIDATES:
        scores = cross_val_score(propensity_model(kind, seed), data.W, data.t, cv=folds, scoring="neg_log_loss")
        losses[kind] = float(-scores.mean())
    chosen = min(losses, key=lambda k: losses[k])
    return PropensityChoice(chosen, tuple(LearnerLoss(k, v) for k, v in losses.items()))


GBR_SUBSAMPLE = 0.8
"""The share of rows each boosting tree of the outcome model sees (see :func:`outcome_model`)."""


def outcome_model(kind: OutcomeLearner, seed: int, discrete: bool) -> Any:
    """The sklearn model for m(x, t) = E[y | x, t]: a classifier for a binary outcome.

    Parameters
    ----------
    kind
        Linear (logistic for a binary outcome), lasso (L1 logistic for a binary outcome),
        gradient boosting or a random forest.
    seed
        ``random_state`` of the tree ensembles.
    discrete
        True for a binary outcome.

    Returns
    -------
    sklearn estimator
        Unfitted.
    """
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LassoCV, LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind is OutcomeLearner.LINEAR:
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)) if discrete else LinearRegression()
    if kind is OutcomeLearner.LASSO:
        if discrete:
            return make_pipeline(StandardScaler(), LogisticRegression(l1_ratio=1.0, solver="liblinear", C=0.5))
        # EconML picks the penalty on its own cross-fitting folds and refits a plain Lasso per fold,
        # so LassoCV keeps its default cv (a custom one would be ignored, with a warning).
        return make_pipeline(StandardScaler(), LassoCV(max_iter=5000))
    if kind is OutcomeLearner.GRADIENT_BOOSTING:
        cls = GradientBoostingClassifier if discrete else GradientBoostingRegressor
        # Stochastic boosting (each tree on 80 % of the rows): out-of-fold MSE of y on (W, t) was a
        # little lower than with every row on all four continuous shipped problems (ACIC 0.0416 vs
        # 0.0422 of var(y), IHDP 0.1325 vs 0.1342, LaLonde 0.5191 vs 0.5194, NHEFS 0.9236 vs 0.9253),
        # and each fit takes 18 % less time (ACIC: 4.5 s vs 5.5 s for five folds). Half the rows was
        # faster still but worse on IHDP and NHEFS.
        return cls(random_state=seed, subsample=GBR_SUBSAMPLE)
    cls = RandomForestClassifier if discrete else RandomForestRegressor
    return cls(n_estimators=200, min_samples_leaf=5, random_state=seed, n_jobs=1)


def learner_description(spec: AnalysisSpec, discrete: bool) -> str:
    """One line naming the EconML learner, the folds and the nuisance models, for a report.

    Parameters
    ----------
    spec
        The analysis spec.
    discrete
        True for a binary outcome (the outcome model is a classifier).

    Returns
    -------
    str
    """
    kind = "classifier, discrete_outcome=True" if discrete else "regressor"
    name = "LinearDRLearner" if spec.estimator is Estimator.LINEAR_DR else "DRLearner (linear CATE)"
    return (
        f"EconML {name}, {spec.folds}-fold cross-fitting; propensity {spec.propensity_learner.value} "
        f"clipped to [{spec.clip:g}, {1 - spec.clip:g}], outcome {spec.outcome_learner.value} ({kind})"
    )


# --------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class NuisanceFit:
    """Cross-fitted nuisance predictions and the fitted EconML learner (kept in-process only)."""

    data: DesignData
    e: np.ndarray  # raw propensity, out of fold
    m0: np.ndarray  # E[y | x, t = 0], out of fold
    m1: np.ndarray
    learner: Any
    spec: AnalysisSpec  # with ``auto`` resolved to the learner that was fitted
    choice: PropensityChoice | None = None  # how ``auto`` chose, when it did

    @property
    def e_clipped(self) -> np.ndarray:
        """The propensity as the weights use it: clipped to the spec's ``[clip, 1 − clip]``."""
        return np.clip(self.e, self.spec.clip, 1 - self.spec.clip)

    @property
    def psi(self) -> np.ndarray:
        """The AIPW score for the ATE, with the spec's propensity clip (as EconML applies it)."""
        e = self.e_clipped
        y, t = self.data.y, self.data.t
        return self.m1 - self.m0 + t * (y - self.m1) / e - (1 - t) * (y - self.m0) / (1 - e)

    @functools.cached_property
    def without_counterpart(self) -> tuple[np.ndarray, np.ndarray]:
        """Units with no treated unit like them, and units with no control like them (:func:`support.without_counterpart`)."""
        return without_counterpart(self.e, self.data.t)

    def keep(self, low: float, high: float) -> np.ndarray:
        """Units whose propensity lies in [low, high] (all of them for [0, 1]).

        Parameters
        ----------
        low, high
            Propensity bounds, inclusive.

        Returns
        -------
        numpy.ndarray
            A boolean mask over the units.
        """
        if low <= 0.0 and high >= 1.0:
            return np.ones(self.data.n, dtype=bool)
        return (self.e >= low) & (self.e <= high)


def folds_for(t: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, shuffled, seeded cross-fitting folds, so every fold sees both arms.

    Parameters
    ----------
    t
        The 0/1 treatment.
    k
        Number of folds.
    seed
        Seed of the shuffle.

    Returns
    -------
    list of tuple of numpy.ndarray
        ``(train, test)`` index arrays, one pair per fold.

    Raises
    ------
    SpecError
        When the smaller arm has fewer than ``MIN_ARM_SIZE * k`` units.
    """
    from sklearn.model_selection import StratifiedKFold

    smallest = int(min(t.sum(), len(t) - t.sum()))
    if smallest < MIN_ARM_SIZE * k:
        from engine.errors import SpecError

        raise SpecError(
            f"only {smallest} units in the smaller arm: too few for {k} cross-fitting folds; "
            "lower folds or widen the trimming bounds"
        )
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(t)), t))


def resolve_propensity(data: DesignData, spec: AnalysisSpec) -> tuple[AnalysisSpec, PropensityChoice | None]:
    """The spec with ``auto`` replaced by the learner it picks on these data, and the choice.

    Parameters
    ----------
    data
        Treatment and covariates (the outcome never enters the choice).
    spec
        The analysis spec.

    Returns
    -------
    tuple of (AnalysisSpec, PropensityChoice or None)
        The spec unchanged and None when its learner is not ``auto``.
    """
    if spec.propensity_learner is not PropensityLearner.AUTO:
        return spec, None
    choice = choose_propensity(data, folds_for(data.t, spec.folds, spec.seed), spec.seed)
    return spec.with_(propensity_learner=choice.chosen), choice


def fit_dr(
    data: DesignData,
    spec: AnalysisSpec,
    choice: PropensityChoice | None = None,
    *,
    regression: Any | None = None,
) -> NuisanceFit:
    """Fit the spec's EconML DR learner and recover the out-of-fold nuisance predictions.

    Parameters
    ----------
    data
        Outcome, treatment and covariates (see :func:`prepare`).
    spec
        Learners, estimator, folds and seed; ``auto`` is resolved here (:func:`resolve_propensity`).
    choice
        How an ``auto`` learner was resolved already, to record with the fit.
    regression
        An unfitted sklearn model of y on (W, t), t the last column, used instead of the spec's
        outcome learner: ``benchmarks/calibrate_design.py`` tries candidates through it before
        one becomes a spec option.

    Returns
    -------
    NuisanceFit
        Everything :func:`estimate_effect` needs, for any estimand and trimming.

    Raises
    ------
    SpecError
        When the smaller arm is too small for ``spec.folds`` folds.
    """
    from econml.dr import DRLearner, LinearDRLearner

    if spec.propensity_learner is PropensityLearner.AUTO:
        spec, choice = resolve_propensity(data, spec)
    folds = folds_for(data.t, spec.folds, spec.seed)
    kwargs = dict(
        model_propensity=propensity_model(spec.propensity_learner, spec.seed),
        model_regression=regression
        if regression is not None
        else outcome_model(spec.outcome_learner, spec.seed, data.discrete_outcome),
        discrete_outcome=data.discrete_outcome,
        min_propensity=spec.clip,
        cv=folds,
        random_state=spec.seed,
    )
    with warnings.catch_warnings():
        # EconML's ortho learner passes classifiers through sklearn utilities that warn about
        # feature names on numpy input; nothing we can act on.
        warnings.filterwarnings("ignore", message=".*feature names.*", category=UserWarning)
        # With discrete_outcome=True EconML hands classifiers y as a column vector.
        warnings.filterwarnings("ignore", message=".*column-vector y.*")
        if spec.estimator is Estimator.LINEAR_DR:
            learner = LinearDRLearner(**kwargs)
            learner.fit(data.y, data.t, X=None, W=data.W)
        else:
            learner = DRLearner(**kwargs)
            learner.fit(data.y, data.t, X=data.W, W=None)
    n = data.n
    e, m0, m1 = np.empty(n), np.empty(n), np.empty(n)
    props, regs = learner.models_propensity[0], learner.models_regression[0]
    for k, (_, test) in enumerate(folds):
        XW = data.W[test]
        zeros, ones = np.zeros((len(test), 1)), np.ones((len(test), 1))
        e[test] = props[k].predict_proba(XW)[:, 1]
        if data.discrete_outcome:
            m0[test] = regs[k].predict_proba(np.hstack([XW, zeros]))[:, 1]
            m1[test] = regs[k].predict_proba(np.hstack([XW, ones]))[:, 1]
        else:
            m0[test] = regs[k].predict(np.hstack([XW, zeros]))
            m1[test] = regs[k].predict(np.hstack([XW, ones]))
    return NuisanceFit(data=data, e=e, m0=m0, m1=m1, learner=learner, spec=spec, choice=choice)


def estimand_label(requested: Estimand, dropped: int) -> str:
    """What an estimate over a trimmed population is called: ATE → ATO once units are dropped.

    Parameters
    ----------
    requested
        The estimand asked for.
    dropped
        Units removed by trimming.

    Returns
    -------
    str
        The requested label when nothing was dropped or it is ATO; else ``ATO`` for an ATE
        and ``ATT-trimmed`` for an ATT.
    """
    if dropped == 0 or requested is Estimand.ATO:
        return requested.value
    return "ATO" if requested is Estimand.ATE else "ATT-trimmed"


def estimate_effect(fit: NuisanceFit, estimand: Estimand, keep: np.ndarray | None = None) -> DREstimate:
    """The doubly-robust effect for ``estimand`` over the units in ``keep``.

    Parameters
    ----------
    fit
        Cross-fitted nuisances from :func:`fit_dr`.
    estimand
        ATE, ATT or ATO (overlap weights).
    keep
        Boolean mask of the analysed population (trimming); everyone when None.

    Returns
    -------
    DREstimate
        Effect, standard error and 95 % interval; ``estimand`` relabelled when trimmed.

    Raises
    ------
    SpecError
        When the kept population holds only one arm.
    """
    data = fit.data
    keep = np.ones(data.n, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    n = int(keep.sum())
    t = data.t[keep]
    n1 = int(t.sum())
    if n1 == 0 or n1 == n:
        from engine.errors import SpecError

        raise SpecError("the analysed population holds only one arm after trimming; widen the trimming bounds")
    label = estimand_label(estimand, data.n - n)
    y, m0, m1 = data.y[keep], fit.m0[keep], fit.m1[keep]
    e = fit.e_clipped[keep]
    method = ""
    without = (fit.without_counterpart[0][keep], fit.without_counterpart[1][keep])
    share, allowance = extrapolation_allowance(m1 - m0, e, t, without, estimand)
    if fit.spec.estimator is Estimator.DR and estimand is not Estimand.ATO:
        X = data.W[keep] if estimand is Estimand.ATE else data.W[keep][t == 1]
        effect = float(np.ravel(fit.learner.ate(X))[0])
        low, high = (float(np.ravel(v)[0]) for v in fit.learner.ate_interval(X, alpha=0.05))
        se = (high - low) / (2 * Z95)
        method = "DRLearner: linear CATE averaged over the population, EconML's interval (conservative)"
        low, high = low - allowance, high + allowance
        return DREstimate(label, estimand.value, effect, se, low, high, n, data.n, n1, n - n1, method, share, allowance)
    if estimand is Estimand.ATE:
        score = fit.psi[keep]
        effect = float(score.mean())
        influence = score - effect
        method = "AIPW score mean (LinearDRLearner's final stage)"
    elif estimand is Estimand.ATT:
        p = n1 / n
        r0 = y - m0
        contrib = t * r0 - (1 - t) * e / (1 - e) * r0
        effect = float(contrib.sum() / n1)
        influence = (contrib - t * effect) / p
        method = "doubly-robust ATT score over the treated"
    else:
        h = e * (1 - e)
        # h·AIPW score written out so e(1-e)/e never divides by a tiny e
        contrib = h * (m1 - m0) + t * (1 - e) * (y - m1) - (1 - t) * e * (y - m0)
        effect = float(contrib.sum() / h.sum())
        influence = (contrib - h * effect) / h.mean()
        method = "overlap-weighted (e(1−e)) AIPW score"
    # Σ IF² / (n (n − 1)): the sample variance of the score over n, as EconML's final stage reports it.
    se = float(np.sqrt(np.sum(influence**2) / (n * (n - 1))))
    return DREstimate(
        estimand=label,
        requested=estimand.value,
        effect=effect,
        se=se,
        ci_low=effect - Z95 * se - allowance,
        ci_high=effect + Z95 * se + allowance,
        n=n,
        n_total=data.n,
        n_treated=n1,
        n_control=n - n1,
        method=method,
        unsupported_share=share,
        allowance=allowance,
    )


def dr_estimate(
    data: DesignData, spec: AnalysisSpec, estimand: Estimand | None = None
) -> tuple[DREstimate, NuisanceFit]:
    """Fit and estimate in one step, trimming by the spec's bounds.

    Parameters
    ----------
    data
        Outcome, treatment and covariates (see :func:`prepare`).
    spec
        Learners, estimator, folds, seed and trimming bounds.
    estimand
        The estimand; the spec's when None.

    Returns
    -------
    tuple of (DREstimate, NuisanceFit)

    Raises
    ------
    SpecError
        When an arm is too small for the folds, or trimming leaves only one arm.
    """
    fit = fit_dr(data, spec)
    keep = fit.keep(*spec.trim)
    return estimate_effect(fit, estimand or spec.estimand, keep), fit
