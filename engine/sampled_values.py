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
posterior the scored numbers are computed from, where no check sees it. And since a term can
also be switched on by the parameters in a few draws only (round 10), each unit's mu must not
move with other units' treatment at any draw, not only at the few the contract checks.
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
    import secrets

    from pytensor.compile.mode import FAST_COMPILE

    from engine.effects import mu_at
    from engine.loglik import posterior_function

    stats = getattr(idata, "sample_stats", None)
    if stats is None or "logp" not in stats:
        return ("the sampler recorded no log-density per draw, so what it sampled from cannot be checked", _HINT)
    t = model["t"]
    observed = np.asarray(t.get_value())
    posterior = _some_draws(idata.posterior.assign(harness_logp__=stats["logp"]), observed.shape[0])
    half = np.random.default_rng(secrets.randbits(64)).random(observed.shape) < 0.5  # drawn now: the model cannot know
    settings = [np.ones_like(observed), np.zeros_like(observed), np.where(half, 1, 0).astype(observed.dtype)]

    def graphs(m: Any) -> list[Any]:
        return [m[loglik_name], m[estimand_name], _logp_besides_likelihood(model, m)] + [
            mu_at(m["mu"], m["t"], a) for a in settings
        ]

    loglik, estimand, rest, treated, untreated, mixed = posterior_function(model, graphs, mode=FAST_COMPILE)(posterior)
    local = _not_local(treated, untreated, mixed, half)
    if local:
        return local
    # The likelihood's share of the joint log-density is the pointwise log-likelihood summed: computed once.
    logp = rest + np.asarray(loglik, dtype=float).reshape(*rest.shape, -1).sum(axis=-1)
    for name, again in ((loglik_name, loglik), (estimand_name, estimand)):
        problem = _differs(name, posterior[name].transpose("chain", "draw", ...).values, again)
        if problem:
            return problem
    return _differs("log-density", posterior["harness_logp__"].transpose("chain", "draw").values, logp)


EVERY_DRAW_VALUES = 4_000_000
"""Most draws × units the every-draw checks evaluate (each array): all of IHDP's 4,000 draws of 747 units; a random
250 of LaLonde's 4,000 draws of 16,177, where all would take a minute (a switch on in 1 % of the draws is then
caught 92 % of the time)."""


def _some_draws(posterior: Any, n: int) -> Any:
    """Every draw, or a random subset (picked now: the model cannot know which) of :data:`EVERY_DRAW_VALUES`."""
    import secrets

    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    keep = max(64, EVERY_DRAW_VALUES // max(n, 1))
    if chains * draws <= keep:
        return posterior
    picked = np.sort(np.random.default_rng(secrets.randbits(64)).choice(chains * draws, size=keep, replace=False))
    flat = posterior.stack(sample=("chain", "draw")).isel(sample=picked).drop_vars(["sample", "chain", "draw"])
    return flat.rename({"sample": "draw"}).expand_dims(chain=1).transpose("chain", "draw", ...)


def _not_local(treated: Any, untreated: Any, mixed: Any, half: np.ndarray) -> tuple[str, str] | None:
    """Where a unit's mu moved with other units' treatment at some draw: mu with a random half of the units treated
    must be mu with everyone treated on that half, and mu with no one treated on the rest."""
    for arm, everyone, kept in ((1, treated, half), (0, untreated, ~half)):
        # the same number either way, NaN and inf included: a term that is NaN off the settings it forges must not pass
        same = (np.isfinite(mixed[..., kept]) == np.isfinite(everyone[..., kept])) & np.isclose(
            mixed[..., kept], everyone[..., kept], rtol=1e-9, atol=1e-12, equal_nan=True
        )
        if same.all():
            continue
        chain, draw, unit = np.unravel_index(int(np.flatnonzero(~same)[0]), same.shape)
        share = float(np.mean(~same.all(axis=-1)))
        k = int(np.flatnonzero(kept)[unit])
        return (
            f"mu for unit {k} depends on other units' treatment at {share:.1%} of the draws (chain {chain}, draw "
            f"{draw}: with t = {arm} for it and half the units it is {float(mixed[chain, draw, k]):.6g}, with t = "
            f"{arm} for everyone {float(everyone[chain, draw, k]):.6g})",
            "make each unit's mu depend on its own t only (no sums, means, sorting or indexing over t), at every "
            "value of the parameters: the harness computes the effect by setting t for everyone at once",
        )
    return None


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
