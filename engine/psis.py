"""PSIS-LOO over many observations at once: ArviZ's algorithm, vectorised across observations.

``az.loo`` smooths each observation's importance weights in a Python loop (one
``argsort``, one generalized-Pareto fit per observation): 10–12 s for LaLonde's 16,177
units × 4,000 draws on this machine, longer than sampling. :func:`psis_loo` runs the same
steps (Vehtari et al. 2024; ArviZ 0.23's ``psislw``, ``_gpdfit``, ``_gpinv``) on blocks of
observations as array operations, and hands every observation whose tail the fast path
cannot take exactly as ArviZ would (ties at the cutoff, an underflowing cutoff, a failed
fit) to ``az.psislw`` itself. ``tests/test_psis.py`` holds the two to the same numbers.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

__all__ = ["PsisLoo", "psis_loo"]

_TINY_LOG = float(np.log(np.finfo(float).tiny))
_EPS = float(np.finfo(float).eps)
_BLOCK_VALUES = 4_000_000
"""Largest (observations × grid × tail) array one block builds for the Pareto fit."""


@dataclass(frozen=True)
class PsisLoo:
    """PSIS-LOO of one log-likelihood array: the sums and every observation's figures."""

    elpd: float
    se: float
    p_loo: float
    pointwise: np.ndarray  # (observation,) LOO log predictive density
    pareto_k: np.ndarray  # (observation,) shape of the fitted tail


def psis_loo(log_lik: np.ndarray, reff: float = 1.0) -> PsisLoo:
    """PSIS-LOO from pointwise log-likelihoods, as ``az.loo(pointwise=True, reff=reff)``.

    Parameters
    ----------
    log_lik
        Log-likelihood per draw and observation, shaped (chain, draw, observation) or
        (sample, observation).
    reff
        Relative efficiency of the draws (mean ESS / samples); sets the tail length.

    Returns
    -------
    PsisLoo
        ELPD, its SE, p_loo, the pointwise ELPD and every observation's Pareto k.
    """
    ll = np.asarray(log_lik, dtype=float)
    ll = ll.reshape(-1, ll.shape[-1])  # (sample, observation)
    n_samples, n_obs = ll.shape
    tail = int(np.ceil(min(n_samples / 5.0, 3 * (n_samples / reff) ** 0.5)))
    grid = 30 + int(tail**0.5)
    rows = max(1, _BLOCK_VALUES // max(1, grid * tail))
    pointwise = np.empty(n_obs)
    k = np.empty(n_obs)
    lppd = np.empty(n_obs)

    def one_block(start: int) -> None:
        block = np.ascontiguousarray(ll[:, start : start + rows].T)  # (observation, sample)
        weights, k[start : start + rows] = _smoothed_log_weights(-block, tail, reff)
        pointwise[start : start + rows] = _logsumexp(weights + block)
        lppd[start : start + rows] = _logsumexp(block) - np.log(n_samples)

    starts = range(0, n_obs, rows)
    if len(starts) == 1:
        one_block(0)
    else:  # NumPy releases the GIL in sorting and ufuncs: one thread per core
        with ThreadPoolExecutor(max_workers=min(len(starts), len(os.sched_getaffinity(0)))) as pool:
            list(pool.map(one_block, starts))
    elpd = float(pointwise.sum())
    return PsisLoo(
        elpd=elpd,
        se=float((n_obs * np.var(pointwise)) ** 0.5),
        p_loo=float(lppd.sum() - elpd),
        pointwise=pointwise,
        pareto_k=k,
    )


def _smoothed_log_weights(raw: np.ndarray, tail: int, reff: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalised Pareto-smoothed log weights and k for each row of ``raw`` (observation, sample)."""
    n_samples = raw.shape[1]
    x = raw - raw.max(axis=1, keepdims=True)
    k = np.full(x.shape[0], np.nan)
    order = np.argpartition(x, n_samples - tail - 1, axis=1)
    cut_at = np.take_along_axis(x, order[:, n_samples - tail - 1 : n_samples - tail], axis=1)[:, 0]
    top_idx = order[:, n_samples - tail :]
    top = np.take_along_axis(x, top_idx, axis=1)
    # The array path takes a row when its tail is exactly the ``tail`` largest values, as in ArviZ.
    rows = np.flatnonzero((tail > 4) & (cut_at >= _TINY_LOG) & (top.min(axis=1) > cut_at))
    by_size = np.argsort(top[rows], axis=1)
    idx = np.take_along_axis(top_idx[rows], by_size, axis=1)
    exp_cut = np.exp(cut_at[rows])[:, None]
    shape, scale = _gpdfit(np.exp(np.take_along_axis(top[rows], by_size, axis=1)) - exp_cut)
    fitted = np.isfinite(shape) & (scale > 0)
    rows, idx, exp_cut, shape, scale = rows[fitted], idx[fitted], exp_cut[fitted], shape[fitted], scale[fitted]
    smoothed = x[rows]
    np.put_along_axis(smoothed, idx, np.log(_gpinv(np.arange(0.5, tail) / tail, shape, scale) + exp_cut), axis=1)
    np.minimum(smoothed, 0.0, out=smoothed)
    x[rows] = smoothed
    k[rows] = shape
    x -= _logsumexp(x)[:, None]
    slow = np.ones(x.shape[0], dtype=bool)
    slow[rows] = False
    if slow.any():  # ArviZ itself for every row the array path cannot reproduce exactly
        import arviz as az

        x[slow], k[slow] = az.psislw(raw[slow], reff)
    return x, k


def _gpdfit(ary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zhang & Stephens' empirical-Bayes GPD fit for each row of sorted exceedances (ArviZ's prior)."""
    n = ary.shape[1]
    grid = 30 + int(n**0.5)
    b = 1 - np.sqrt(grid / (np.arange(1, grid + 1, dtype=float) - 0.5))
    b = b[None, :] / (3 * ary[:, int(n / 4 + 0.5) - 1])[:, None] + (1 / ary[:, -1])[:, None]
    k_grid = np.log1p(-b[:, :, None] * ary[:, None, :]).mean(axis=2)
    len_scale = n * (np.log(-(b / k_grid)) - k_grid - 1)
    weights = 1 / np.exp(len_scale[:, None, :] - len_scale[:, :, None]).sum(axis=2)
    weights = np.where(weights >= 10 * _EPS, weights, 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    b_post = (b * weights).sum(axis=1)
    k_post = np.log1p(-b_post[:, None] * ary).mean(axis=1)
    scale = -k_post / b_post
    return (n * k_post + 10 * 0.5) / (n + 10), scale


def _gpinv(probs: np.ndarray, shape: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Inverse GPD CDF at ``probs`` (all inside (0, 1)) for each row's shape and scale."""
    shape = shape[:, None]
    near_zero = np.abs(shape) < _EPS
    safe = np.where(near_zero, 1.0, shape)
    x = np.where(near_zero, -np.log1p(-probs)[None, :], np.expm1(-safe * np.log1p(-probs)[None, :]) / safe)
    return x * scale[:, None]


def _logsumexp(x: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp, shifted by each row's maximum as ArviZ's is.

    Not ``scipy.special.logsumexp``: its extra checks cost about 0.5 s of LaLonde's 2 s here.
    """
    top = x.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.log(np.exp(x - top).sum(axis=1)) + top[:, 0]
