"""Sampling with real nutpie on a tiny model: progress, budget, cancellation, seeds.

One model is compiled for the whole module (nutpie's compile is the slow part) and
sampled several times with small settings.
"""

from __future__ import annotations

import pickle
import time

import numpy as np
import pytest

from engine import sampling
from engine.errors import SamplingBudgetExceeded, SamplingCancelled
from engine.problem import SamplingSettings
from engine.sampling import ChainProgress, Phase, SamplingProgress, compile_model, free_parameter_names, sample

SMALL = SamplingSettings(chains=2, draws=200, tune=200, seed=7)


@pytest.fixture(scope="module")
def tiny_model():
    import pymc as pm

    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = 1.0 + 2.0 * x + rng.normal(size=200)
    with pm.Model() as model:
        a = pm.Normal("a", 0, 5)
        b = pm.Normal("b", 0, 5)
        s = pm.HalfNormal("s", 2)
        mu = pm.Deterministic("mu", a + b * x)
        pm.Normal("y", mu, s, observed=y)
    return model


@pytest.fixture(scope="module")
def compiled(tiny_model):
    return compile_model(tiny_model)


def test_progress_reports_each_chain_until_done(compiled) -> None:
    # Enough draws that sampling outlasts a few 250 ms progress renders on a busy machine.
    settings = SamplingSettings(chains=2, draws=30_000, tune=300, seed=1)
    got: list[SamplingProgress] = []
    idata = sample(compiled, settings, budget_s=120, on_progress=got.append)

    with_chains = [p for p in got if p.chains]
    assert with_chains, "no structured per-chain progress arrived"
    last = got[-1]
    assert last.phase == Phase.DONE
    assert [c.chain for c in last.chains] == [0, 1]
    assert all(c.finished == c.total == 30_300 for c in last.chains)
    assert all(not c.tuning and c.step_size > 0 for c in last.chains)
    assert last.fraction == pytest.approx(1.0)
    finished = [sum(c.finished for c in p.chains) for p in with_chains]
    assert finished == sorted(finished)  # progress only moves forward
    assert idata.posterior.sizes["draw"] == 30_000


def test_progress_snapshots_pickle(compiled) -> None:
    progress = SamplingProgress(Phase.SAMPLING, 1.5, 60.0, (ChainProgress(0, 10, 400, 1, 0.5, True),), 3.0)
    again = pickle.loads(pickle.dumps(progress))
    assert again == progress
    assert again.divergences == 1


def test_trace_records_timings_and_free_parameters(compiled) -> None:
    idata = sample(compiled, SMALL, budget_s=60)
    attrs = idata.posterior.attrs
    assert attrs["compile_time"] == 0.0  # already compiled: not counted again
    assert attrs["sampling_time"] > 0
    assert free_parameter_names(idata) == ["a", "b", "s"]  # not mu
    assert "mu" in idata.posterior
    assert idata.posterior.sizes["chain"] == 2 and idata.posterior.sizes["draw"] == 200
    assert not any(name.startswith("warmup") for name in idata.groups())


def test_compile_time_is_reported_when_compiling(tiny_model) -> None:
    got: list[SamplingProgress] = []
    idata = sample(tiny_model, SMALL, budget_s=60, on_progress=got.append)
    assert got[0].phase == Phase.COMPILING
    assert idata.posterior.attrs["compile_time"] > 0
    assert got[-1].compile_s == idata.posterior.attrs["compile_time"]


def test_same_seed_same_draws(compiled) -> None:
    first = sample(compiled, SMALL, budget_s=60)
    second = sample(compiled, SMALL, budget_s=60)
    other = sample(compiled, SamplingSettings(chains=2, draws=200, tune=200, seed=8), budget_s=60)
    assert np.array_equal(first.posterior["b"].values, second.posterior["b"].values)
    assert not np.array_equal(first.posterior["b"].values, other.posterior["b"].values)


def test_budget_exceeded_raises_typed_error(compiled) -> None:
    huge = SamplingSettings(chains=2, draws=5_000_000, tune=200, seed=1)
    started = time.perf_counter()
    with pytest.raises(SamplingBudgetExceeded) as info:
        sample(compiled, huge, budget_s=0.5)
    assert time.perf_counter() - started < 10
    assert info.value.budget_s == 0.5
    assert "sampling_budget_s" in str(info.value)


def test_should_stop_cancels(compiled) -> None:
    huge = SamplingSettings(chains=2, draws=5_000_000, tune=200, seed=1)
    deadline = time.perf_counter() + 0.5
    with pytest.raises(SamplingCancelled):
        sample(compiled, huge, budget_s=60, should_stop=lambda: time.perf_counter() > deadline)


def test_broken_progress_callback_does_not_break_sampling(compiled) -> None:
    def explode(progress: SamplingProgress) -> None:
        raise RuntimeError("a screen bug")

    idata = sample(compiled, SMALL, budget_s=60, on_progress=explode)
    assert idata.posterior.sizes["draw"] == 200


def test_without_the_private_progress_api_sampling_still_works(compiled, monkeypatch) -> None:
    monkeypatch.setattr(sampling, "_progress_sampler", lambda *args: None)
    got: list[SamplingProgress] = []
    idata = sample(compiled, SMALL, budget_s=60, on_progress=got.append)
    assert idata.posterior.sizes["draw"] == 200
    assert got[-1].phase == Phase.DONE
    assert all(not p.chains for p in got)  # elapsed time only
