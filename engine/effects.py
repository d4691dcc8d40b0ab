"""The estimand by intervention, computed by the harness and never by the model.

For every posterior draw, the expected outcome ``mu`` is evaluated with the treatment data
container ``t`` set to all ones and to all zeros; the unit-level differences are averaged
over the estimand's population:

ATE
    every unit, equal weights;
ATT
    the treated units;
ATO
    overlap weights e(x)·(1 − e(x)), with e(x) from a logistic regression of ``t`` on the
    model's design matrix ``X``.

As with the log-likelihood (:mod:`engine.loglik`) there are two routes to the potential
outcomes, both vectorised over draws: :func:`add_unit_effects` registers their difference as a
Deterministic so nutpie computes it with every draw (the harness's route; no separate
compile), and :func:`compute_potential_outcomes` evaluates them after sampling on any
trace. :func:`summarize_effect` turns unit-level differences into an
:class:`~engine.records.Effect` (posterior mean, sd, 94 % HDI via ArviZ) and the per-draw
effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ModelContractError
from engine.problem import Estimand
from engine.records import Effect

if TYPE_CHECKING:
    import arviz as az
    import pandas as pd
    import pymc as pm

TREATMENT = "t"
"""The data container the model registers the treatment as; the harness intervenes on it."""
MU = "mu"
"""The Deterministic holding the expected outcome (a probability for a binary outcome)."""
UNIT_EFFECT = "harness_unit_effect__"
"""The Deterministic :func:`add_unit_effects` adds: mu(t=1) − mu(t=0) per unit."""
ESTIMAND = "harness_estimand__"
"""The Deterministic :func:`add_estimand` adds: the weighted average effect, one number per draw."""
HDI_PROB = 0.94


def add_estimand(model: pm.Model, weights: np.ndarray) -> str:
    """Register the estimand itself, ``Σ w·(mu(t=1) − mu(t=0)) / Σ w``, as a scalar Deterministic.

    The harness's route: the weights depend only on the data (:func:`estimand_weights`), so
    the average can be taken inside the sampler and the trace holds one number per draw
    instead of one per unit and draw (16,000 units × 4,000 draws is 0.5 GB per variable).

    Parameters
    ----------
    model
        The model, changed in place (build a fresh one per run).
    weights
        One non-negative weight per unit.

    Returns
    -------
    str
        The name of the Deterministic.

    Raises
    ------
    ModelContractError
        If the model has no data container ``t`` or no Deterministic ``mu`` that depends on it.
    """
    import pymc as pm

    mu, t = _contract_vars(model)
    treated, control = _intervene(mu, t)
    w = np.asarray(weights, dtype=float)
    with model:
        pm.Deterministic(ESTIMAND, ((treated - control) * (w / w.sum())).sum())
    return ESTIMAND


def take_estimand_draws(idata: az.InferenceData) -> np.ndarray:
    """Per-draw estimand from a trace of a model prepared by :func:`add_estimand`, shape ``(chain, draw)``.

    The helper Deterministic is dropped from ``idata.posterior`` (changed in place).

    Parameters
    ----------
    idata
        The trace; its posterior must hold the helper Deterministic.

    Returns
    -------
    numpy.ndarray
        The estimand per draw, as floats.
    """
    post = idata.posterior  # type: ignore[attr-defined]  # arviz groups are dynamic attributes
    draws = post[ESTIMAND].values
    idata.posterior = post.drop_vars(ESTIMAND)  # type: ignore[attr-defined]  # arviz groups are dynamic attributes
    return np.asarray(draws, dtype=float)


def add_unit_effects(model: pm.Model) -> str:
    """Register the unit-level effects ``mu(t=1) − mu(t=0)`` as a Deterministic of ``model``.

    Call it before compiling for nutpie, which then evaluates them with every draw;
    :func:`take_unit_effects` reads them from the trace. One difference rather than two
    potential outcomes halves the work per draw and the memory.

    Parameters
    ----------
    model
        The model, changed in place (build a fresh one per run).

    Returns
    -------
    str
        The name of the Deterministic.

    Raises
    ------
    ModelContractError
        If the model has no data container ``t`` or no Deterministic ``mu`` that depends on it.
    """
    import pymc as pm

    mu, t = _contract_vars(model)
    treated, control = _intervene(mu, t)
    with model:
        pm.Deterministic(UNIT_EFFECT, treated - control, dims=model.named_vars_to_dims.get(MU))
    return UNIT_EFFECT


def take_unit_effects(idata: az.InferenceData) -> np.ndarray:
    """Unit-level effects ``mu(t=1) − mu(t=0)`` from a trace of a prepared model.

    The helper Deterministic from :func:`add_unit_effects` is dropped from
    ``idata.posterior`` (changed in place), so saved traces stay small.

    Parameters
    ----------
    idata
        The trace; its posterior must hold the helper Deterministic.

    Returns
    -------
    numpy.ndarray
        Shape ``(chain, draw, unit)``.
    """
    post = idata.posterior  # type: ignore[attr-defined]  # arviz groups are dynamic attributes
    diff = post[UNIT_EFFECT].values
    idata.posterior = post.drop_vars(UNIT_EFFECT)  # type: ignore[attr-defined]  # arviz groups are dynamic attributes
    return _units_last(diff)


def compute_potential_outcomes(
    model: pm.Model, idata: az.InferenceData, *, mode: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """``mu`` with ``t`` set to ones and to zeros for every draw, vectorised after sampling.

    Parameters
    ----------
    model
        The model that produced ``idata``.
    idata
        A trace whose posterior holds the model's free variables.
    mode
        PyTensor compile mode; see :func:`engine.loglik.posterior_function`.

    Returns
    -------
    tuple of numpy.ndarray
        ``(mu1, mu0)``, each shaped ``(chain, draw, unit)``.
    """
    from engine.loglik import posterior_function

    _contract_vars(model)

    def build(m: pm.Model) -> list[Any]:
        return list(_intervene(m[MU], m[TREATMENT]))

    mu1, mu0 = posterior_function(model, build, mode=mode)(idata.posterior)  # type: ignore[attr-defined]  # arviz groups are dynamic attributes
    return _units_last(mu1), _units_last(mu0)


def estimand_weights(estimand: Estimand | str, t: np.ndarray, X: pd.DataFrame | np.ndarray | None = None) -> np.ndarray:
    """Unit weights that define the estimand's population (they sum to one).

    Parameters
    ----------
    estimand
        ATE, ATT or ATO.
    t
        Treatment indicators (0/1).
    X
        The design matrix; needed for ATO only (propensity from a logistic regression).

    Returns
    -------
    numpy.ndarray
        One weight per unit.
    """
    estimand = Estimand(str(estimand).upper())
    t = np.asarray(t, dtype=float)
    if estimand is Estimand.ATE:
        weights = np.ones_like(t)
    elif estimand is Estimand.ATT:
        if not t.any():
            raise ValueError("the ATT needs treated units, and t has none")
        weights = t.copy()
    else:
        if X is None:
            raise ValueError("the ATO needs the design matrix X for the propensity model")
        e = propensity(t, X)
        weights = e * (1.0 - e)
    return weights / weights.sum()


def propensity(t: np.ndarray, X: pd.DataFrame | np.ndarray) -> np.ndarray:
    """Propensity scores e(x) = P(t = 1 | x) from a logistic regression of ``t`` on ``X``.

    Parameters
    ----------
    t
        Treatment, 0/1.
    X
        The design matrix, one row per unit.

    Returns
    -------
    numpy.ndarray
        One in-sample propensity per unit.
    """
    from sklearn.linear_model import LogisticRegression

    features = np.asarray(X, dtype=float)
    fit = LogisticRegression(max_iter=2000).fit(features, np.asarray(t, dtype=int))
    return fit.predict_proba(features)[:, 1]


def summarize_effect(
    unit_effects: np.ndarray, weights: np.ndarray, estimand: Estimand | str, *, hdi_prob: float = HDI_PROB
) -> tuple[Effect, np.ndarray]:
    """Average unit-level effects over the estimand's population, per draw, and summarise.

    Parameters
    ----------
    unit_effects
        ``(chain, draw, unit)`` differences ``mu(t=1) − mu(t=0)``.
    weights
        One weight per unit (from :func:`estimand_weights`).
    estimand
        Its name, recorded in the result.
    hdi_prob
        Mass of the highest-density interval.

    Returns
    -------
    Effect
        Posterior mean, sd and HDI of the estimand.
    numpy.ndarray
        The estimand per draw, shaped ``(chain, draw)``.
    """
    weights = np.asarray(weights, dtype=float)
    per_draw = np.asarray(unit_effects, dtype=float) @ (weights / weights.sum())
    return summarize_draws(per_draw, estimand, hdi_prob=hdi_prob), per_draw


def summarize_draws(per_draw: np.ndarray, estimand: Estimand | str, *, hdi_prob: float = HDI_PROB) -> Effect:
    """Posterior mean, sd and HDI (ArviZ) of the estimand's draws, shaped ``(chain, draw)``.

    Parameters
    ----------
    per_draw
        The estimand per draw.
    estimand
        Its name (``"ATE"``, ``"ATT"``, ``"ATO"``, any case), recorded in the result.
    hdi_prob
        Mass of the highest-density interval.

    Returns
    -------
    Effect

    Raises
    ------
    ValueError
        When some draw's effect is not finite (``mu`` overflows under the intervention).
    """
    import arviz as az

    per_draw = np.asarray(per_draw, dtype=float)
    if not np.all(np.isfinite(per_draw)):
        raise ValueError("the effect is not finite for some draws: mu overflows under the intervention")
    low, high = az.hdi(per_draw.ravel(), hdi_prob=hdi_prob)
    return Effect(
        estimand=Estimand(str(estimand).upper()).value,
        mean=float(per_draw.mean()),
        sd=float(per_draw.std(ddof=1)) if per_draw.size > 1 else 0.0,
        hdi_low=float(low),
        hdi_high=float(high),
        hdi_prob=hdi_prob,
    )


def effect_by_intervention(
    model: pm.Model,
    idata: az.InferenceData,
    estimand: Estimand | str,
    t: np.ndarray,
    X: Any = None,
    *,
    mode: Any = None,
) -> tuple[Effect, np.ndarray]:
    """The estimand from any trace, after sampling: the post-hoc route in one call.

    Parameters
    ----------
    model, idata
        The model and its trace.
    estimand
        ATE, ATT or ATO.
    t, X
        The observed treatment and the design matrix (``X`` for ATO only).
    mode
        PyTensor compile mode; see :func:`engine.loglik.posterior_function`.

    Returns
    -------
    Effect, numpy.ndarray
        As :func:`summarize_effect`.
    """
    mu1, mu0 = compute_potential_outcomes(model, idata, mode=mode)
    return summarize_effect(mu1 - mu0, estimand_weights(estimand, t, X), estimand)


# --------------------------------------------------------------------------- helpers


def _contract_vars(model: pm.Model) -> tuple[Any, Any]:
    from pytensor.graph.traversal import ancestors

    t = model.named_vars.get(TREATMENT)
    if t is None or t not in model.data_vars:
        raise ModelContractError(
            "the model has no data container named 't'; register the treatment as "
            'pm.Data("t", data.t, dims="obs") so the harness can intervene on it'
        )
    mu = model.named_vars.get(MU)
    if mu is None or mu not in model.deterministics:
        raise ModelContractError(
            'the model has no Deterministic named "mu"; wrap the expected outcome in pm.Deterministic("mu", ...)'
        )
    if t not in set(ancestors([mu])):
        raise ModelContractError(
            "mu does not depend on the data container t; build mu from the t that pm.Data returns, not from data.t"
        )
    return mu, t


def _intervene(mu: Any, t: Any) -> tuple[Any, Any]:
    import pytensor.tensor as pt

    return mu_at(mu, t, pt.ones_like(t)), mu_at(mu, t, pt.zeros_like(t))


def mu_at(mu: Any, t: Any, assignment: Any) -> Any:
    """``mu``'s graph with the container ``t`` replaced by ``assignment``: the estimand's intervention, for checks too.

    ``graph_replace`` keeps the random variables as they are (``clone_replace`` would copy them), so the result
    can still be rewritten in terms of their values.

    Parameters
    ----------
    mu
        The model's ``mu``.
    t
        The model's treatment container.
    assignment
        A graph or array of ``t``'s shape.

    Returns
    -------
    TensorVariable
    """
    import pytensor.tensor as pt
    from pytensor.graph.replace import graph_replace

    return graph_replace(mu, {t: pt.as_tensor(assignment)}, strict=True)


def _units_last(values: np.ndarray) -> np.ndarray:
    """(chain, draw, *unit dims) → (chain, draw, units): a scalar mu counts as one unit."""
    values = np.asarray(values)
    return values.reshape(values.shape[0], values.shape[1], -1)
