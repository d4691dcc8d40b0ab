"""The sampler's scored numbers against the checks' backend (engine/sampled_values.py), in this process.

nutpie computes the log-likelihood and the estimand with Numba. Here the same Deterministics
are computed with PyTensor's Numba backend at prior draws, standing where nutpie's draws
stand, so the comparison meets the backend split red team round 9 used without a sampling
run (the run path through nutpie is the corpus's ``fake_*_backend_switch`` cases, slow).
"""

from __future__ import annotations

from pathlib import Path

import arviz as az
import pymc as pm
import pytest

from engine import effects, loglik
from engine.compile_check import load_model_module
from engine.loglik import posterior_function
from engine.sampled_values import sampled_disagreement

ROOT = Path(__file__).resolve().parents[1]


def _sampled_with_numba(source: str, data, name: str):
    """The model with the harness's Deterministics, and 'draws' whose scored values Numba computed."""
    model = load_model_module(source, name=name).build_model(data)
    observed = loglik.add_log_likelihood(model)
    estimand = effects.add_estimand(model, effects.estimand_weights("ATE", data.t, data.X))
    names = (loglik.LOGLIK_PREFIX + observed, estimand)
    prior = pm.sample_prior_predictive(
        draws=10, model=model, var_names=[rv.name for rv in model.free_RVs], random_seed=1
    ).prior
    values = posterior_function(model, lambda m: [m[n] for n in names], mode="NUMBA")(prior)
    scored = {n: (("chain", "draw", *(f"{n}_dim_{i}" for i in range(v.ndim - 2))), v) for n, v in zip(names, values)}
    return model, az.InferenceData(posterior=prior.assign(scored)), names


@pytest.mark.parametrize(
    ("file", "differs"),
    [("problems/ihdp/model.py", False), ("tests/hostile/fake_effect_backend_switch.py", True)],
)
def test_a_term_only_the_compiled_sampler_computes_is_told_apart(ihdp, file, differs):
    model, idata, names = _sampled_with_numba((ROOT / file).read_text(encoding="utf-8"), ihdp.model_data(), file)
    problem = sampled_disagreement(model, idata, names)
    assert (problem is not None) is differs, problem
    if differs:
        assert "harness_loglik__y differs from the model's graph" in problem[0] and "100% of the draws" in problem[0]
