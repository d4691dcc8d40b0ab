"""The model contract: what a built ``pm.Model`` must be before the harness samples it or trusts its ``mu``.

The harness computes the effect by setting the data container ``t`` for every unit and reading
the Deterministic ``mu``; the scorer reads the log-likelihood of the one observed variable. So a
model that answers honestly is one whose ``mu`` is the likelihood's mean, moves with ``t`` only
through the container and unit by unit, and holds no copy of the observed treatment or outcome;
and whose code is gone once ``build_model`` has returned, so none of it runs inside the
harness's own steps. The checks here run in the compile check's child and in the model child
(:mod:`engine.harness`); a copy in an encoding no graph walk finds is the second build's to
catch (:mod:`engine.fingerprint`).
"""

from __future__ import annotations

import gc
import types
from collections.abc import Sequence
from typing import Any

from engine.problem import ModelData
from engine.sandbox.static import FUNCTION_CODE, FUNCTION_GLOBALS, class_module, class_name

MODEL_FILENAME = "model.py"
"""The file name ``model.py`` is compiled under (its frames in tracebacks carry it)."""
MODEL_MODULE = "workbench_model"
"""The module name ``model.py`` is loaded as."""


def contract_problem(model: Any, data: ModelData) -> tuple[str, str] | None:
    """The first way the model breaks the model contract, as (error, hint), or None.

    Checked in order: ``build_model`` returned a ``pm.Model`` (the class itself: a subclass's
    methods would run inside the harness's own steps, after its integrity check); it has a data
    container ``t`` that holds ``data.t`` as given and a Deterministic ``mu`` that depends on it;
    exactly one observed variable, holding ``data.y`` as given, whose likelihood uses ``mu``;
    only PyTensor's and PyMC's own operations; no copy of the outcome or of the treatment in
    ``mu``'s graph; PyMC's default transforms; no discrete parameters. That ``mu`` is the
    likelihood's mean, unit by unit, is :func:`intervention_checks`'s to say.

    Parameters
    ----------
    model
        What ``build_model`` returned.
    data
        The data it was built from.

    Returns
    -------
    tuple of (str, str) or None
        None when the model keeps the contract.
    """
    import pymc as pm
    from pytensor.graph.traversal import ancestors

    if not isinstance(model, pm.Model):
        return (
            f"build_model returned {type(model).__name__}, not a pm.Model",
            "end build_model with `return model`, where model comes from `with pm.Model() as model:`",
        )
    if type(model) is not pm.Model:  # a subclass's methods would run inside the harness, after its checks
        return (
            f"build_model returned a {type(model).__name__}, a subclass of pm.Model; the harness takes pm.Model itself",
            "build the model with `with pm.Model(coords=...) as model:`; put helpers in functions, not in a Model subclass",
        )
    named = model.named_vars
    t = named.get("t")
    if t is None or t not in model.data_vars:
        return (
            "the model has no data container named 't'",
            'register the treatment as `t = pm.Data("t", data.t, dims="obs")` and use that t in mu',
        )
    mu = named.get("mu")
    if mu is None or mu not in model.deterministics:
        return (
            "the model has no Deterministic named 'mu'",
            'wrap the expected outcome: `mu = pm.Deterministic("mu", ..., dims="obs")`, and use mu in the likelihood',
        )
    held = _treatment_held(t, data)
    if held is not None:
        return held
    mu_graph = set(ancestors([mu]))
    if t not in mu_graph:
        return (
            "mu does not depend on the data container t",
            "build mu from the variable returned by pm.Data('t', ...), not from data.t, so the harness "
            "can set the treatment to estimate the effect",
        )
    observed = model.observed_RVs
    if len(observed) != 1:
        names = ", ".join(v.name for v in observed) or "none"
        return (
            f"the model has {len(observed)} observed variables ({names}); it needs exactly one",
            'give the outcome one likelihood, e.g. `pm.Normal("y", mu=mu, sigma=sigma, observed=data.y)`',
        )
    held = _outcome_held(model, observed[0], data)
    if held is not None:
        return held
    likelihood = set(ancestors(observed[0].owner.inputs))
    if mu not in likelihood:
        return (
            f"the likelihood of {observed[0].name} does not use mu",
            'pass mu to the likelihood (`pm.Normal("y", mu=mu, ...)`, `pm.Bernoulli("y", p=mu, ...)`): the harness '
            "computes the effect from mu, so a mu the likelihood ignores would report an effect the data never saw",
        )
    foreign = _foreign_ops(likelihood)  # mu is in it, so mu's graph is too
    if foreign:
        return (
            f"the model uses an operation defined outside PyTensor and PyMC ({foreign[0]})",
            "build the model from PyMC distributions and PyTensor's own operations: a Python Op's perform runs "
            "inside the harness's own steps, where it can tell the checks from the sampling",
        )
    outcome = _outcome_copies(model, mu_graph, data)
    if outcome:
        return (
            f"{outcome[0]} in mu holds the observed outcome",
            "build mu from the controls and t only: an outcome in its own mean predicts itself, and its effect and "
            "ELPD say nothing about the data",
        )
    copies = _treatment_copies(model, mu_graph, data)  # in sigma a copy is harmless: the effect is mu's
    if copies:
        return (
            f"{copies[0]} holds a copy of the treatment outside the data container t",
            "use the t that pm.Data returns everywhere: the harness computes the effect by setting t, and a copy "
            "of the observed treatment would not follow",
        )
    odd = _odd_transforms(model)
    if odd:
        return (
            f"{odd[0]} is sampled through a transform of the model's own choosing",
            "leave transform= out (PyMC's default transform for each distribution is the one the harness takes): a "
            "transform's bounds and Jacobian are outside every graph the harness checks",
        )
    discrete = [model.values_to_rvs[v].name for v in model.discrete_value_vars]
    if discrete:
        return (
            f"the model has discrete parameters: {', '.join(discrete)}",
            "nutpie samples continuous parameters only; marginalise the discrete ones or make them continuous",
        )
    return None


def _treatment_held(t: Any, data: ModelData) -> tuple[str, str] | None:
    """The container ``t`` must hold the observed treatment as given: (error, hint), or None.

    Scaled (``0.4·data.t``: the effect read at t = 1 is 2.5 times the fitted one) or with an extra
    column (a zero column in the fit, set to 1 by the intervention), it keeps the fit and changes
    the effect.
    """
    import numpy as np

    held = np.asarray(t.get_value())
    if held.shape == (data.n,) and np.array_equal(held.astype(float), np.asarray(data.t, dtype=float)):
        return None
    return (
        f"the data container t holds {held.shape} values that are not data.t",
        'register the treatment as it is: `t = pm.Data("t", data.t, dims="obs")` (no scaling, shifting or extra '
        "columns: the harness sets t to 0 and 1 to read the effect)",
    )


def _outcome_held(model: Any, likelihood: Any, data: ModelData) -> tuple[str, str] | None:
    """The likelihood must observe the outcome as given: (error, hint), or None.

    ``data.y / 10`` adds n·log 10 to every log-density: an ELPD no honest model can beat.
    """
    import numpy as np

    value = model.rvs_to_values[likelihood]
    held = np.asarray(value.get_value() if hasattr(value, "get_value") else value.data)
    if held.shape == (data.n,) and np.array_equal(held.astype(float), np.asarray(data.y, dtype=float)):
        return None
    return (
        f"the likelihood's observed values ({held.shape}) are not data.y",
        "pass the outcome as it is: `observed=data.y` (a transformed outcome changes the log-density's units, "
        "and ELPDs are compared in data.y's)",
    )


def _odd_transforms(model: Any) -> list[str]:
    """Free variables whose transform is not PyMC's default for their distribution (none is fine).

    An ``Interval`` transform takes its bounds from a function of the model's choosing: bounds
    at ``y − 10·t ± 1e-5`` pin a per-unit offset to a copy of the outcome, outside every graph
    (red team, round 7).
    """
    from pymc.distributions.transforms import _default_transform

    odd = []
    for rv in model.free_RVs:
        chosen = model.rvs_to_transforms.get(rv)
        if chosen is None:
            continue  # sampled on its own scale: the same density
        default = _default_transform(rv.owner.op, rv)
        if type(chosen) is not type(default):
            odd.append(rv.name)
            continue
        bounds, default_bounds = vars(chosen).get("args_fn"), vars(default).get("args_fn") if default else None
        if bounds is not None and not (
            type(bounds) is types.FunctionType
            and type(default_bounds) is types.FunctionType
            and FUNCTION_CODE.__get__(bounds, types.FunctionType)
            is FUNCTION_CODE.__get__(default_bounds, types.FunctionType)
        ):
            odd.append(rv.name)
    return odd


TRUSTED_OP_PACKAGES = ("pytensor.", "pymc.")
"""Where every operation in a model's graph must come from: a Python Op of the model's own (or
``as_op`` around one of its functions) runs its code inside the harness, during sampling."""


def _foreign_ops(graph: set[Any]) -> list[str]:
    """The operations in ``graph`` that are not PyTensor's or PyMC's own, or that wrap a Python function."""
    found = []
    for var in graph:
        owner = getattr(var, "owner", None)
        if owner is None:
            continue
        op = type(owner.op)
        if not op.__module__.startswith(TRUSTED_OP_PACKAGES) or op.__name__ == "FromFunctionOp":
            found.append(f"{op.__module__}.{op.__qualname__}")
    return sorted(set(found))


def _vectors(model: Any, graph: set[Any], n: int) -> list[tuple[str, Any]]:
    """Constants and data containers in ``graph`` other than ``t``, by name, as columns of length ``n``."""
    import numpy as np
    from pytensor.graph.basic import Constant

    t = model.named_vars.get("t")
    names = {id(v): name for name, v in model.named_vars.items()}
    found = []
    for node in graph:
        if node is t:
            continue
        if isinstance(node, Constant):
            value, label = node.data, "a constant in the model"
        elif id(node) in names and node in model.data_vars:
            value, label = node.get_value(), f"the data container {names[id(node)]!r}"
        else:
            continue
        array = np.asarray(value)
        if array.size == n:  # a vector however it is shaped: (n,), (1, n), (n, 1)
            array = array.reshape(n)
        if array.ndim >= 1 and array.shape[0] == n and array.dtype.kind in "biuf":
            matrix = array.reshape(n, -1).astype(float)
            found += [(label, matrix[:, j]) for j in range(min(matrix.shape[1], 500))]
    return found


def _outcome_copies(model: Any, graph: set[Any], data: ModelData) -> list[str]:
    """Columns in ``graph`` that are the observed outcome up to the treatment and a shift (R² ≥ 0.999 on y and t).

    No control is an exact function of the outcome and the treatment; a column that is (``y``
    itself, ``y − 10·t``) makes mu reproduce the data and the effect whatever the author wrote.
    """
    import numpy as np

    y = np.asarray(data.y, dtype=float).ravel()
    t = np.asarray(data.t, dtype=float).ravel()
    if y.std() == 0:
        return []
    base = np.column_stack([np.ones_like(t), t])
    design = np.column_stack([base, y])
    found = []
    for label, column in _vectors(model, graph, y.size):
        if not np.all(np.isfinite(column)) or column.std() == 0:
            continue
        without_y = column - base @ np.linalg.lstsq(base, column, rcond=None)[0]
        with_y = column - design @ np.linalg.lstsq(design, column, rcond=None)[0]
        if without_y.var() > 0 and with_y.var() <= 1e-3 * without_y.var():
            found.append(label)
    return found


def _treatment_copies(model: Any, graph: set[Any], data: ModelData) -> list[str]:
    """Constants and data containers in ``graph`` (``mu``'s), other than ``t``, that hold the observed treatment.

    A mean written as ``beta·t_obs + 10·(t − t_obs)``, with ``t_obs`` a constant copy of the
    treatment, fits the data exactly as the honest model does while intervening on ``t`` reports
    any effect the author likes. Copies that are the treatment up to scale and shift (every
    treated unit one value, every control another) are found; other transformations of ``t`` are
    the guard's and the principal's to see.
    """
    import numpy as np

    treated = np.asarray(data.t, dtype=float).ravel() == 1
    if not treated.any() or treated.all():
        return []
    found = []
    for label, column in _vectors(model, graph, treated.size):
        on, off = column[treated], column[~treated]
        if np.ptp(on) == 0 and np.ptp(off) == 0 and on[0] != off[0]:
            found.append(label)
    return found


Point = tuple[Any, ...]
"""Values of a model's free variables, in the order of ``model.free_RVs`` (constrained, as sampled)."""


def intervention_problem(model: Any, posterior: Sequence[Point] = ()) -> tuple[str, str] | None:
    """:func:`intervention_checks` at the model's initial point, for the harness's own build.

    Parameters
    ----------
    model
        A model that keeps the contract (:func:`contract_problem`).
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
        A model that keeps :func:`contract_problem`.
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


# --------------------------------------------------------------------------- what build_model leaves behind


def names_problem(model: Any) -> tuple[str, str] | None:
    """A variable name, dimension or coordinate label that is not a plain string or number: (error, hint), or None.

    The harness hashes and compares these names while it writes the arrays; a ``str`` subclass
    would run its own ``__hash__`` or ``__eq__`` there, after every check.

    Parameters
    ----------
    model
        What ``build_model`` returned (a ``pm.Model``).

    Returns
    -------
    tuple of (str, str) or None
        The first odd name found, or None.
    """
    names = list(model.named_vars) + list(model.coords)
    for dims in model.named_vars_to_dims.values():
        names += [d for d in dims or () if d is not None]
    odd = [type(name) for name in names if type(name) is not str]
    labels = [label for values in model.coords.values() for label in values or ()]
    odd += [
        type(label) for label in labels if type(label) not in _PLAIN_LABELS and class_module(type(label)) != "numpy"
    ]
    if not odd:
        return None
    return (
        f"the model names a variable, dimension or coordinate with a {class_module(odd[0])}.{class_name(odd[0])} "
        "instead of a plain str or number",
        "name variables, dims and coords with plain strings, and give coordinates strings or numbers",
    )


_PLAIN_LABELS = (str, int, float, bool)


def model_code_left(before: Sequence[object] = ()) -> list[str]:
    """Functions and classes of ``model.py`` still alive after ``build_model`` returned, by name.

    Call it once the model module is gone from ``sys.modules`` and nothing holds it: a model
    function kept alive (a ``CustomDist``'s ``logp``, a weakref or ``atexit`` callback, a
    method of a class whose instance the model holds) would run inside the harness's own
    steps, where no check sees it. The garbage collector runs first, so cycles through the
    module's namespace are gone; every attribute is read through its type's own descriptor,
    so reading them runs no model code.

    Parameters
    ----------
    before
        :func:`model_code_alive` taken before the module was loaded: code of earlier models in
        the same process (an in-process run, a test) is not this model's.

    Returns
    -------
    list of str
        Sorted, de-duplicated names; empty when nothing of the model's code is left.
    """
    gc.collect()
    earlier = {id(obj) for obj in before}
    return sorted({_describe(obj) for obj in model_code_alive() if id(obj) not in earlier})


def model_code_alive() -> list[object]:
    """Every function and class alive now that came from a ``model.py`` (or hides where it came from).

    Returns
    -------
    list of object
        The objects themselves (hold them to compare by identity later).
    """
    found: list[object] = []
    for obj in gc.get_objects():
        kind = type(obj)
        if kind is types.FunctionType:
            code = FUNCTION_CODE.__get__(obj, kind)
            module = dict.get(FUNCTION_GLOBALS.__get__(obj, kind), "__name__")
            from_model = type(module) is str and module == MODEL_MODULE
            if type(code.co_filename) is not str or code.co_filename == MODEL_FILENAME or from_model:
                found.append(obj)
        elif issubclass(kind, type) and class_module(obj) == MODEL_MODULE:
            found.append(obj)
    return found


def _describe(obj: object) -> str:
    if type(obj) is types.FunctionType:
        code = FUNCTION_CODE.__get__(obj, types.FunctionType)
        filed = str.__str__(code.co_filename) if type(code.co_filename) is str else "?"
        where = "" if filed == MODEL_FILENAME else f" (filed as {filed.rsplit('/', 1)[-1]})"
        return f"function {str.__str__(code.co_name)}{where}"
    return f"class {class_name(obj)}"


def odd_build(model: Any, before: Sequence[object] = ()) -> tuple[str, str] | None:
    """After ``build_model`` returned and its module was dropped: odd names, or model code left alive.

    Parameters
    ----------
    model
        What ``build_model`` returned.
    before
        :func:`model_code_alive` from before the module was loaded.

    Returns
    -------
    tuple of (str, str) or None
        (error, hint), or None when the build left only PyMC's and PyTensor's own objects.
    """
    import pymc as pm

    if type(model) is pm.Model:  # contract_problem says what else it should have been
        named = names_problem(model)
        if named is not None:
            return named
    left = model_code_left(before)
    if left:
        return (
            f"model.py left code behind after build_model returned ({', '.join(left[:3])})",
            "build the model from PyMC's distributions and PyTensor operations only: no CustomDist with Python "
            "functions, no callbacks or classes kept alive, since their code would run inside the harness",
        )
    return None
