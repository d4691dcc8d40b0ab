"""The sampler's scored numbers, computed again from the graph every check reads.

nutpie computes the pointwise log-likelihood and the estimand with its own compiled
(Numba) function; every contract check and both fingerprints evaluate the model's graph
with PyTensor's Python implementations (``FAST_COMPILE``). Where an operation gives other
numbers on the two backends (``inf // 2`` is ``inf`` in Numba and ``nan`` in NumPy;
``int8`` arithmetic widens in one and wraps in the other), a term can be off in every check
and on in every draw the scorer reads (red team, round 9). So after sampling the model child
evaluates the same Deterministics at every draw through the checks' backend, and the draws
the scorer reads must agree. So must the log-density nutpie sampled from (its ``logp`` per
draw, Jacobian included): a prior or potential switched on only in the sampler would shape the
posterior the scored numbers are computed from, where no check sees it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SAMPLED_RTOL = 1e-6
"""Agreement asked of the two backends (they differ by rounding: the order of a sum, a libm's last bit)."""
SAMPLED_ATOL = 1e-6


def sampled_disagreement(model: Any, idata: Any, loglik_name: str, estimand_name: str) -> tuple[str, str] | None:
    """Where what the sampler stored differs from the graph evaluated at the same draws: (error, hint), or None.

    Parameters
    ----------
    model
        The model that was sampled (with the harness's log-likelihood and estimand added).
    idata
        What the sampler returned: the free variables and both Deterministics for every draw, and
        the log-density of every draw in ``sample_stats``.
    loglik_name
        The pointwise log-likelihood Deterministic the scorer reads.
    estimand_name
        The estimand Deterministic the scorer reads.

    Returns
    -------
    tuple of (str, str) or None
    """
    from pytensor.compile.mode import FAST_COMPILE

    from engine.loglik import posterior_function

    posterior = idata.posterior
    stats = getattr(idata, "sample_stats", None)
    if stats is None or "logp" not in stats:
        return ("the sampler recorded no log-density per draw, so what it sampled from cannot be checked", _HINT)
    graphs = lambda m: [m[loglik_name], m[estimand_name], _logp_besides_likelihood(model, m)]  # noqa: E731
    loglik, estimand, rest = posterior_function(model, graphs, mode=FAST_COMPILE)(posterior)
    # The likelihood's share of the joint log-density is the pointwise log-likelihood summed: computed once.
    logp = rest + np.asarray(loglik, dtype=float).reshape(*rest.shape, -1).sum(axis=-1)
    for name, again in ((loglik_name, loglik), (estimand_name, estimand)):
        problem = _differs(name, posterior[name].transpose("chain", "draw", ...).values, again)
        if problem:
            return problem
    return _differs("log-density", stats["logp"].transpose("chain", "draw").values, logp)


def _differs(name: str, sampled: Any, again: Any) -> tuple[str, str] | None:
    stored = np.asarray(sampled, dtype=float)
    again = np.asarray(again, dtype=float).reshape(stored.shape)
    differ = ~np.isclose(stored, again, rtol=SAMPLED_RTOL, atol=SAMPLED_ATOL, equal_nan=True)
    if not differ.any():
        return None
    where = np.unravel_index(int(np.flatnonzero(differ)[0]), differ.shape)
    share = float(np.mean(differ.reshape(differ.shape[0], differ.shape[1], -1).any(axis=2)))
    return (
        f"the sampler's {name} differs from the model's graph evaluated at the same draw (chain {where[0]}, "
        f"draw {where[1]}: {float(stored[where]):.6g} against {float(again[where]):.6g}; {share:.0%} of the "
        "draws): an operation gives other numbers in the compiled sampler than in the checks",
        _HINT,
    )


_HINT = (
    "use operations whose result does not depend on how they are compiled: no integer division or narrow integer "
    "arithmetic on the parameters, no switch on overflow, inf or nan"
)


def _logp_besides_likelihood(model: Any, plain: Any) -> Any:
    """The log-density nutpie samples from, less the likelihood, in ``plain``'s (transform-free) variables: every
    prior and potential, plus each default transform's log-Jacobian at the unconstrained value of the draw."""
    total = plain.logp(vars=[*plain.free_RVs, *plain.potentials])
    for rv in model.free_RVs:
        transform = model.rvs_to_transforms.get(rv)
        if transform is None:
            continue
        same = plain[rv.name]
        inputs = same.owner.inputs
        total = total + transform.log_jac_det(transform.forward(same, *inputs), *inputs).sum()
    return total
