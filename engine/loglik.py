"""Pointwise log-likelihood of the observed variable for every posterior draw, cheaply.

PSIS-LOO needs log p(y_i | θ_s) for every observation i and draw s. nutpie's trace has no
``log_likelihood`` group, and ``pm.compute_log_likelihood`` evaluates one draw at a time
(about 8 s for IHDP here). Two vectorised routes, both exact for any likelihood PyMC can
take the log-density of:

In the sampler (what the harness uses)
    :func:`add_log_likelihood` registers the pointwise log-density as an extra
    Deterministic before nutpie compiles the model, so nutpie's Numba-compiled expand
    function evaluates it with every draw, on the sampler's own threads, and no separate
    compile is needed; :func:`take_log_likelihood` then moves it into the
    ``log_likelihood`` group. Costs a fraction of a second of extra compile and nothing
    measurable per draw.

After sampling (any trace)
    :func:`compute_log_likelihood` takes the log-density graph of the untransformed free
    variables, vectorises it over a leading draw dimension
    (:func:`pytensor.graph.replace.vectorize_graph`), compiles it once and evaluates it on
    blocks of draws. :func:`posterior_function` is the general tool; the effect module
    uses it too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ModelContractError

if TYPE_CHECKING:
    import arviz as az
    import pymc as pm
    from pytensor.graph.basic import Variable
    from pytensor.tensor import TensorVariable

LOGLIK_PREFIX = "harness_loglik__"
"""Name prefix of the Deterministic :func:`add_log_likelihood` adds (never a model's own name)."""
BLOCK_ELEMENTS = 4_000_000
"""Draws are evaluated in blocks of about this many output elements (32 MB of float64)."""


def observed_variable(model: pm.Model) -> Any:
    """The model's one observed random variable.

    Parameters
    ----------
    model
        A PyMC model.

    Returns
    -------
    TensorVariable
        The observed random variable.

    Raises
    ------
    ModelContractError
        If the model has no observed variable or more than one.
    """
    observed = model.observed_RVs
    if len(observed) != 1:
        names = ", ".join(rv.name for rv in observed) or "none"
        raise ModelContractError(
            f"the model has {len(observed)} observed variables ({names}); it needs exactly one, "
            'e.g. pm.Normal("y", mu=mu, sigma=sigma, observed=data.y)'
        )
    return observed[0]


def add_log_likelihood(model: pm.Model) -> str:
    """Register the observed variable's pointwise log-density as a Deterministic of ``model``.

    Call it before compiling for nutpie; the trace then carries the log-likelihood of every
    draw, and :func:`take_log_likelihood` moves it where ArviZ looks for it.

    Parameters
    ----------
    model
        The model, changed in place (build a fresh one per run).

    Returns
    -------
    str
        The name of the observed variable.
    """
    import pymc as pm

    obs = observed_variable(model)
    value = model.rvs_to_values[obs]
    logp = pm.logp(obs, value)
    with model:
        pm.Deterministic(LOGLIK_PREFIX + obs.name, logp, dims=_leading_dims(model, obs.name, logp.ndim))
    return obs.name


def take_log_likelihood(idata: az.InferenceData, observed_name: str) -> az.InferenceData:
    """Move the Deterministic from :func:`add_log_likelihood` into ``log_likelihood``.

    Parameters
    ----------
    idata
        A trace of a model prepared with :func:`add_log_likelihood`; changed in place.
    observed_name
        The observed variable's name, as returned by :func:`add_log_likelihood`.

    Returns
    -------
    arviz.InferenceData
        The same object, with ``log_likelihood[observed_name]`` and without the helper
        variable in ``posterior``.
    """
    import xarray as xr

    name = LOGLIK_PREFIX + observed_name
    post = idata.posterior  # type: ignore[attr-defined]  # arviz groups are dynamic attributes
    values = post[name]
    idata.posterior = post.drop_vars(name)  # type: ignore[attr-defined]  # arviz groups are dynamic attributes
    _set_log_likelihood(idata, xr.Dataset({observed_name: values}))
    return idata


def compute_log_likelihood(model: pm.Model, idata: az.InferenceData, *, mode: Any = None) -> az.InferenceData:
    """Pointwise log-likelihood of every draw in ``idata``, vectorised over draws.

    Equal to ``pm.compute_log_likelihood`` (to floating-point rounding), without its
    per-draw loop.

    Parameters
    ----------
    model
        The model that produced ``idata``.
    idata
        A trace with a ``posterior`` group holding the model's free variables; changed in
        place.
    mode
        PyTensor compile mode; see :func:`posterior_function`.

    Returns
    -------
    arviz.InferenceData
        The same object with a ``log_likelihood`` group.
    """
    import pymc as pm
    import xarray as xr

    name = observed_variable(model).name

    def build(m: pm.Model) -> list[TensorVariable]:
        obs = m[name]
        return [pm.logp(obs, m.rvs_to_values[obs])]

    post = idata.posterior  # type: ignore[attr-defined]  # arviz groups are dynamic attributes
    (values,) = posterior_function(model, build, mode=mode)(post)
    dims = _leading_dims(model, name, values.ndim - 2) or [f"{name}_dim_{i}" for i in range(values.ndim - 2)]
    coords = {d: list(model.coords[d]) for d in dims if model.coords.get(d) is not None}
    array = xr.DataArray(
        values, dims=["chain", "draw", *dims], coords={"chain": post.chain, "draw": post.draw, **coords}
    )
    _set_log_likelihood(idata, xr.Dataset({name: array}))
    return idata


def posterior_function(
    model: pm.Model,
    build: Callable[[pm.Model], Sequence[TensorVariable]],
    *,
    replace: Callable[[pm.Model], dict[Any, Any]] | None = None,
    mode: Any = None,
) -> Callable[[Any], list[np.ndarray]]:
    """Compile graphs of a model's random variables into one function of a whole posterior.

    Value transforms are removed (the posterior holds constrained values), the graphs are
    rewritten in terms of the free variables' values, vectorised over a leading draw axis
    and compiled once. The returned function evaluates them on blocks of draws.

    Parameters
    ----------
    model
        The model. It is not changed: the work happens on a transform-free copy.
    build
        Given that copy, returns the graphs to evaluate, in terms of its random variables
        (e.g. ``[m["mu"]]`` or ``[pm.logp(m["y"], m.rvs_to_values[m["y"]])]``).
    replace
        Given the copy, returns replacements applied to the graphs first, such as
        ``{m["t"]: ones}`` to intervene on a data container.
    mode
        PyTensor compile mode. Default: ``FAST_RUN`` without elementwise fusion when a C
        compiler is configured (fused kernels are unique to each model and would be
        compiled by the C compiler every time; unfused ones come from PyTensor's cache),
        else ``NUMBA``.

    Returns
    -------
    callable
        ``f(posterior)`` with ``posterior`` an xarray Dataset with ``chain`` and ``draw``
        dimensions, returning one array per graph, shaped ``(chain, draw, *graph_shape)``.
    """
    import pytensor
    from pymc.model.transform.conditioning import remove_value_transforms
    from pytensor.graph.replace import graph_replace, vectorize_graph

    # PyMC will not convert a model with initval= set (NotImplementedError); where the sampler started does not
    # matter to values computed at its draws, so they are cleared for the conversion and put back after.
    initial = dict(model.rvs_to_initial_values)
    for rv in initial:
        model.rvs_to_initial_values[rv] = None
    try:
        plain = remove_value_transforms(model)
    finally:
        for rv, value in initial.items():
            model.rvs_to_initial_values[rv] = value
    outputs: list[Variable] = list(build(plain))
    if replace is not None:
        outputs = graph_replace(outputs, replace(plain), strict=False)
    outputs = plain.replace_rvs_by_values(outputs)
    free = list(plain.free_RVs)
    values = [plain.rvs_to_values[rv] for rv in free]
    batched = [v.type.clone(shape=(None, *v.type.shape))(name=v.name) for v in values]
    outputs = vectorize_graph(outputs, replace=dict(zip(values, batched, strict=True)))
    fn = pytensor.function(batched, outputs, mode=_mode(mode), on_unused_input="ignore")
    names = [rv.name for rv in free]
    dtypes = [v.dtype for v in values]

    def evaluate(posterior: Any) -> list[np.ndarray]:
        missing = [n for n in names if n not in posterior]
        if missing:
            raise KeyError(f"the posterior lacks the model's free variables {', '.join(missing)}")
        n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
        flat = [
            np.ascontiguousarray(posterior[n].transpose("chain", "draw", ...).values, dtype=dt).reshape(
                n_chain * n_draw, *posterior[n].shape[2:]
            )
            for n, dt in zip(names, dtypes, strict=True)
        ]
        first = [np.asarray(o) for o in fn(*[a[:1] for a in flat])]
        per_draw = max(1, max(int(np.prod(o.shape[1:])) for o in first))
        block = max(1, BLOCK_ELEMENTS // per_draw)
        chunks = [first] + [
            [np.asarray(o) for o in fn(*[a[i : i + block] for a in flat])] for i in range(1, n_chain * n_draw, block)
        ]
        return [
            np.concatenate([c[k] for c in chunks]).reshape(n_chain, n_draw, *first[k].shape[1:])
            for k in range(len(outputs))
        ]

    return evaluate


# --------------------------------------------------------------------------- helpers


def _mode(mode: Any) -> Any:
    if mode is not None:
        return mode
    import pytensor
    from pytensor.compile.mode import get_mode

    if pytensor.config.cxx:
        return get_mode("FAST_RUN").excluding("fusion")
    return "NUMBA"


def _leading_dims(model: pm.Model, name: str, ndim: int) -> list[str] | None:
    dims = model.named_vars_to_dims.get(name)
    if not dims or len(dims) < ndim or any(d is None for d in dims[:ndim]):
        return None
    return list(dims[:ndim])


def _set_log_likelihood(idata: az.InferenceData, dataset: Any) -> None:
    if "log_likelihood" in idata.groups():
        idata.log_likelihood = idata.log_likelihood.assign(**dataset.data_vars)  # type: ignore[attr-defined]  # arviz groups are dynamic attributes
    else:
        idata.add_groups(log_likelihood=dataset)
