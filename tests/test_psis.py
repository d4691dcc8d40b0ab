"""The vectorised PSIS-LOO gives ArviZ's numbers, observation by observation, on hard cases too."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest

from engine.psis import psis_loo


def arviz_loo(log_lik: np.ndarray, reff: float) -> az.ELPDData:
    idata = az.from_dict(log_likelihood={"y": log_lik})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.loo(idata, pointwise=True, reff=reff)


def assert_same(log_lik: np.ndarray, reff: float) -> None:
    ours = psis_loo(log_lik, reff)
    theirs = arviz_loo(log_lik, reff)
    np.testing.assert_allclose(ours.pointwise, np.asarray(theirs.loo_i), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.pareto_k, np.asarray(theirs.pareto_k), rtol=1e-10, atol=1e-12)
    assert ours.elpd == pytest.approx(float(theirs.elpd_loo), rel=1e-12)
    assert ours.se == pytest.approx(float(theirs.se), rel=1e-10)
    assert ours.p_loo == pytest.approx(float(theirs.p_loo), rel=1e-9, abs=1e-9)


def regression_log_lik(rng: np.random.Generator, n: int, chains: int = 4, draws: int = 500) -> np.ndarray:
    """Pointwise Normal log-densities whose spread across draws differs by observation (some heavy)."""
    spread = rng.gamma(0.5, 1.0, size=n)
    z = rng.standard_normal((chains, draws, n))
    return -0.5 * (1 + spread * z) ** 2 - 0.9189


@pytest.mark.parametrize("reff", [1.0, 0.35, 0.9])
def test_matches_arviz_on_ordinary_and_influential_observations(reff: float) -> None:
    rng = np.random.default_rng(3)
    log_lik = regression_log_lik(rng, 1500)
    log_lik[..., :20] *= 40  # influential points: k well above 0.7
    assert_same(log_lik, reff)
    assert (psis_loo(log_lik, reff).pareto_k > 0.7).any()


def test_rows_the_array_path_cannot_take_exactly_go_to_arviz() -> None:
    """Ties at the tail cutoff, a cutoff below the smallest float, constant rows and a short tail."""
    rng = np.random.default_rng(4)
    log_lik = regression_log_lik(rng, 60)
    log_lik[..., 0] = np.round(log_lik[..., 0], 1)  # ties at the cutoff
    log_lik[..., 1] = -3.0  # every draw equal: no tail to fit
    log_lik[..., 2] = rng.normal(0, 2000, size=log_lik.shape[:2])  # weights spanning > 700 in log
    log_lik[..., 3] = np.where(rng.random(log_lik.shape[:2]) < 0.5, -1.0, -2.0)  # two values
    assert_same(log_lik, 0.8)
    assert_same(log_lik[:, :10], 1.0)  # 40 draws: the tail is 8 values
    assert_same(log_lik[:1, :20], 1.0)  # 20 draws: a tail of 4, which ArviZ does not fit


def test_many_observations_split_into_blocks_and_threads() -> None:
    rng = np.random.default_rng(5)
    log_lik = regression_log_lik(rng, 6000, draws=250)
    assert_same(log_lik, 0.7)


def test_sample_by_observation_layout_gives_the_same_result() -> None:
    rng = np.random.default_rng(6)
    log_lik = regression_log_lik(rng, 200)
    flat = psis_loo(log_lik.reshape(-1, 200), 0.9)
    np.testing.assert_array_equal(flat.pointwise, psis_loo(log_lik, 0.9).pointwise)
