"""What the harness's intervention needs of ``mu``: each unit's ``mu`` on its own ``t`` only, and ``mu``
the likelihood's mean.

The harness reads the effect by setting ``t`` for everyone at once (:mod:`engine.effects`). A
mean that reads ``t`` across units, or a likelihood whose mean is not ``mu``, fits the data as
well as an honest model and reports another effect. These checks run at the initial point, at
prior draws and at posterior draws, on a model that keeps :mod:`engine.contract`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.sandbox.static import class_name

Point = tuple[Any, ...]
"""Values of a model's free variables, in the order of ``model.free_RVs`` (constrained, as sampled)."""


def intervention_problem(model: Any, posterior: Sequence[Point] = ()) -> tuple[str, str] | None:
    """:func:`intervention_checks` at the model's initial point, for the harness's own build.

    Parameters
    ----------
    model
        A model that keeps the contract (:func:`engine.contract.contract_problem`).
    posterior
        Posterior draws to check at as well (after sampling): a term that switches itself on
        only where the posterior lies is off at the initial point and at prior draws.

    Returns
    -------
    tuple of (str, str) or None
        (error, hint) when a unit's mu depends on other units' treatment, or mu is not the
        likelihood's mean under the intervention; None otherwise.
    """
    (mu,) = model.replace_rvs_by_values([model["mu"]])
    return intervention_checks(model, mu, model.initial_point(), posterior)


def substituted(outputs: Sequence[Any], replacements: dict[Any, Any]) -> list[Any]:
    """``outputs`` with each key of ``replacements`` replaced by its value in the graph.

    PyTensor's ``graph_replace`` fails ("is not a part of graph") when one replaced variable
    sits in another's graph, as a hierarchical prior's scale sits in its coefficients' graph;
    cloning with the replacements as the memo stops at each of them.

    Parameters
    ----------
    outputs
        Graphs to rebuild.
    replacements
        Variable to put in place of each key (free variables by stand-ins, ``t`` by an input).

    Returns
    -------
    list
    """
    from pytensor.graph.replace import clone_replace

    return list(clone_replace(list(outputs), replace=replacements))


def prior_points(model: Any, seed: int, count: int) -> list[Point]:
    """``count`` draws of the free variables from their prior (none when PyMC cannot draw forward from it).

    Parameters
    ----------
    model
        A model that keeps the contract.
    seed
        Drawn where the model cannot know it.
    count
        How many draws.

    Returns
    -------
    list of Point
    """
    import numpy as np
    import pymc as pm

    free = list(model.free_RVs)
    if not free:
        return []
    try:
        prior = pm.draw(free, draws=count, random_seed=seed)
    except Exception:  # noqa: BLE001 - a prior PyMC cannot draw from forward (a Potential-shaped one, say)
        return []
    return [tuple(np.asarray(values)[d] for values in prior) for d in range(count)]


LOCALITY_UNITS = 12
"""How many units, drawn afresh each time, the check sets treated (and untreated) alone against everyone at once."""
LOCALITY_DRAWS = 2
"""Prior draws the check evaluates mu at, besides the initial point (which the model's ``initval`` sets)."""
MEAN_RTOL = 1e-6
"""How close the likelihood's mean must be to mu (they differ by rounding when PyMC reparametrises, e.g. a
negative binomial's mu and alpha as n and p)."""


def intervention_checks(
    model: Any, mu: Any, point: dict[str, Any], posterior: Sequence[Point] = ()
) -> tuple[str, str] | None:
    """Whether mu answers the intervention the harness makes: (error, hint), or None.

    The harness computes the effect by setting ``t`` for everyone at once and reading ``mu``.
    Two things must hold under that intervention, at the initial point and at prior draws:

    - a unit's mu depends on its own treatment only. A mean that reads ``t`` through a sum, a
      mean, a sort or an index over units can be fitted on the observed treatment like any other
      and still move, under the intervention alone, by whatever the author wrote
      (``c·(mean(t) − share)`` is 0 on the data and adds ``c`` to the effect);
    - mu is the likelihood's mean. A likelihood whose location is ``mu − 6·t`` fits exactly
      as ``mu`` would with 6 less effect, and the effect read from ``mu`` is 6 too large.

    Parameters
    ----------
    model
        A model that keeps :func:`engine.contract.contract_problem`.
    mu
        ``mu``'s graph in terms of the value variables.
    point
        The initial point, in value space.
    posterior
        Posterior draws to check at as well.

    Returns
    -------
    tuple of (str, str) or None
        The first problem found.
    """
    import secrets

    import numpy as np
    import pytensor
    from pytensor.compile.mode import FAST_COMPILE

    t = model["t"]
    observed = np.asarray(t.get_value())
    n = observed.shape[0] if observed.ndim else 0
    if n == 0:
        return None
    likelihood_mean = _likelihood_mean(model)
    if isinstance(likelihood_mean, tuple):
        return likelihood_mean
    (mean_values,) = model.replace_rvs_by_values([likelihood_mean])
    # t is replaced in the graph, as the harness's estimand replaces it (engine.effects), never set through
    # its storage: a variable sharing that storage would follow a set_value but not the estimand's intervention
    t_in = t.type()
    fn = pytensor.function(
        [*model.value_vars, t_in],
        substituted([mu, mean_values], {t: t_in}),
        mode=FAST_COMPILE,
        on_unused_input="ignore",
    )
    free = list(model.free_RVs)
    seed = secrets.randbits(32)  # not knowable by the model: it cannot spare the units or values probed
    stand_ins = [rv.type() for rv in free]
    at_values = pytensor.function(
        [*stand_ins, t_in],
        substituted([model["mu"], likelihood_mean], {**dict(zip(free, stand_ins, strict=True)), t: t_in}),
        mode=FAST_COMPILE,
        on_unused_input="ignore",
    )
    points: list[Point | None] = [None]  # None: the initial point, in value space
    points += [*prior_points(model, seed, LOCALITY_DRAWS), *posterior]

    at_start = [point[v.name] for v in model.value_vars]

    def evaluate(at: Point | None, assignment: Any) -> tuple[Any, Any]:
        mu_value, mean_value = fn(*at_start, assignment) if at is None else at_values(*at, assignment)
        return np.asarray(mu_value), np.broadcast_to(np.asarray(mean_value), np.shape(mu_value))

    units = np.random.default_rng(seed).choice(n, size=min(n, LOCALITY_UNITS), replace=False)
    compared_means = 0
    required = {0, *range(len(points) - len(posterior), len(points))}  # the initial point and the posterior draws
    for index, at in enumerate(points):
        for arm in (0, 1):
            everyone, mean_everyone = evaluate(at, np.full_like(observed, arm))
            both = np.isfinite(everyone) & np.isfinite(mean_everyone)
            compared_means += int(both.sum())
            if index in required and not np.all(np.isfinite(mean_everyone) | ~np.isfinite(everyone)):
                return (
                    f"the likelihood has no mean with t = {arm} for everyone "
                    f"{'at the initial point' if index == 0 else 'at a posterior draw'} "
                    "(a Student-t with nu ≤ 1), so there is no difference of means to report",
                    "give nu a prior that keeps it above 1 (e.g. 1 + pm.Gamma(...)), or use a Normal likelihood",
                )
            if not np.allclose(everyone[both], mean_everyone[both], rtol=MEAN_RTOL, atol=1e-9):
                k = int(np.flatnonzero(~np.isclose(everyone, mean_everyone, rtol=MEAN_RTOL, atol=1e-9) & both)[0])
                return (
                    f"mu is not the likelihood's mean: with t = {arm} for everyone, unit {k} has mu "
                    f"{float(everyone[k]):.6g} but the likelihood's mean is {float(mean_everyone[k]):.6g}",
                    'pass mu itself as the likelihood\'s mean (`pm.Normal("y", mu=mu, ...)`, '
                    '`pm.Bernoulli("y", p=mu, ...)`, `pm.NegativeBinomial("y", mu=mu, ...)`) and put every '
                    "term of the mean, t's included, inside mu: the harness reads the effect from mu",
                )
            for k in units:
                alone = observed.copy()
                alone[k] = arm
                own = float(evaluate(at, alone)[0][k])
                if not (np.isfinite(own) or np.isfinite(everyone[k])):
                    continue  # both overflow at an extreme prior draw: nothing to compare
                # a local mu is the same number either way, NaN and inf included (round 11 hid a term behind NaN)
                if np.isfinite(own) != np.isfinite(everyone[k]) or not np.isclose(
                    own, float(everyone[k]), rtol=1e-9, atol=1e-12
                ):
                    return (
                        f"mu for unit {k} depends on other units' treatment: with t = {arm} for it alone it is "
                        f"{own:.6g}, with t = {arm} for everyone {float(everyone[k]):.6g}",
                        "make each unit's mu depend on its own t only (no sums, means, sorting or indexing over "
                        "t): the harness computes the effect by setting t for everyone at once",
                    )
    if compared_means == 0:
        return (
            "the likelihood's mean is not finite at any point the harness probed",
            "use a likelihood with a finite mean (a Student-t needs nu > 1): the effect is a difference of means",
        )
    return None


def _likelihood_mean(model: Any) -> Any:
    """The observed variable's mean as a graph, or (error, hint) when it is not one of :data:`VERIFIED_MEANS`.

    PyMC's ``moments.mean`` is a table, and not every entry is the distribution's mean: Wald's
    ignores its shift ``alpha``, the skewed Student-t's its scale; a likelihood could carry the
    treatment there and move the outcome's mean without moving ``mu``. So only likelihoods whose
    entry is checked (``tests/test_contract.py`` draws from each) are taken, and a Student-t's
    mean is undefined (NaN) where ``nu ≤ 1``.
    """
    import numpy as np
    import pytensor.tensor as pt
    from pymc.distributions.moments import mean

    (likelihood,) = model.observed_RVs
    op = likelihood.owner.op
    if type(op) not in _verified_ops():
        name = class_name(type(op)).removesuffix("RV")
        return (
            f"the harness cannot check that mu is the mean of this likelihood ({name})",
            "use one of "
            + ", ".join(VERIFIED_MEANS)
            + " with mu as its mean (or its probability, rate or expected count)",
        )
    value = mean(likelihood)
    if type(op).__name__ == "StudentTRV":
        nu = likelihood.owner.inputs[2]
        value = pt.switch(pt.gt(nu, 1), value, np.nan)
    return value


VERIFIED_MEANS = (
    "Normal",
    "StudentT",
    "Bernoulli",
    "Binomial",
    "Poisson",
    "NegativeBinomial",
    "Gamma",
    "LogNormal",
    "Beta",
    "Exponential",
    "Laplace",
    "Logistic",
)
"""Likelihoods whose mean PyMC's ``moments.mean`` gives right for every parameter (tested by simulation)."""


def _verified_ops() -> tuple[type, ...]:
    from pytensor.tensor.random import basic

    return (
        basic.NormalRV,
        basic.StudentTRV,
        basic.BernoulliRV,
        basic.BinomialRV,
        basic.PoissonRV,
        basic.NegBinomialRV,
        basic.GammaRV,
        basic.LogNormalRV,
        basic.BetaRV,
        basic.ExponentialRV,
        basic.LaplaceRV,
        basic.LogisticRV,
    )
