"""The model contract: what a built ``pm.Model`` must be before the harness samples it or trusts its ``mu``.

The harness computes the effect by setting the data container ``t`` for every unit and reading
the Deterministic ``mu``; the scorer reads the log-likelihood of the one observed variable. So a
model that answers honestly is one whose ``mu`` is the likelihood's mean, moves with ``t`` only
through the container and unit by unit, and holds no copy of the observed treatment or outcome;
and whose code is gone once ``build_model`` has returned, so none of it runs inside the
harness's own steps. This module checks the structure; :mod:`engine.intervention` checks ``mu``
under the intervention, :mod:`engine.leftovers` what the build left alive. All run in the
compile check's child and in the model child (:mod:`engine.harness`); a copy in an encoding no
graph walk finds is the second build's to catch (:mod:`engine.fingerprint`).
"""

from __future__ import annotations

import types
from typing import Any

from engine.problem import ModelData
from engine.sandbox.static import FUNCTION_CODE

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
    likelihood's mean, unit by unit, is :func:`engine.intervention.intervention_checks`'s to say.

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
