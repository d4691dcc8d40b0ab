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
import xarray as xr

from engine import effects, loglik
from engine.compile_check import load_model_module
from engine.loglik import posterior_function
from engine.sampled_values import sampled_disagreement

ROOT = Path(__file__).resolve().parents[1]


def _joint_logp(model, plain):
    """nutpie's log-density (the model's with each transform's log-Jacobian), in ``plain``'s constrained values."""
    total = plain.logp()
    for rv in model.free_RVs:
        transform = model.rvs_to_transforms.get(rv)
        if transform is not None:
            inputs = plain[rv.name].owner.inputs
            total = total + transform.log_jac_det(transform.forward(plain[rv.name], *inputs), *inputs).sum()
    return total


def _sampled_with_numba(source: str, data, name: str):
    """The model with the harness's Deterministics, and 'draws' whose stored values Numba computed."""
    model = load_model_module(source, name=name).build_model(data)
    observed = loglik.add_log_likelihood(model)
    estimand = effects.add_estimand(model, effects.estimand_weights("ATE", data.t, data.X))
    names = (loglik.LOGLIK_PREFIX + observed, estimand)
    prior = pm.sample_prior_predictive(
        draws=10, model=model, var_names=[rv.name for rv in model.free_RVs], random_seed=1
    ).prior
    *values, logp = posterior_function(model, lambda m: [*(m[n] for n in names), _joint_logp(model, m)], mode="NUMBA")(
        prior
    )
    scored = {n: (("chain", "draw", *(f"{n}_dim_{i}" for i in range(v.ndim - 2))), v) for n, v in zip(names, values)}
    stats = xr.Dataset({"logp": (("chain", "draw"), logp)}, coords={"chain": prior.chain, "draw": prior.draw})
    return model, az.InferenceData(posterior=prior.assign(scored), sample_stats=stats), names


@pytest.mark.parametrize(
    ("file", "differs"),
    [
        ("problems/ihdp/model.py", None),
        ("tests/hostile/fake_effect_backend_switch.py", "harness_loglik__y"),  # a term in mu
        ("tests/hostile/fake_effect_backend_potential.py", "log-density"),  # a Potential: shapes what is sampled
    ],
)
def test_a_term_only_the_compiled_sampler_computes_is_told_apart(ihdp, file, differs):
    model, idata, names = _sampled_with_numba((ROOT / file).read_text(encoding="utf-8"), ihdp.model_data(), file)
    problem = sampled_disagreement(model, idata, *names)
    if differs is None:
        assert problem is None, problem
    else:
        assert problem is not None and f"the sampler's {differs} differs from the model's graph" in problem[0]
        assert "100% of the draws" in problem[0]


def test_draws_without_the_samplers_log_density_are_refused(ihdp):
    model, idata, names = _sampled_with_numba(
        (ROOT / "problems/ihdp/model.py").read_text(encoding="utf-8"), ihdp.model_data(), "plain"
    )
    problem = sampled_disagreement(model, az.InferenceData(posterior=idata.posterior), *names)
    assert problem is not None and "no log-density per draw" in problem[0]


def test_large_problems_are_checked_at_a_random_subset_of_draws():
    """LaLonde's 16,177 units × 4,000 draws would take a minute: a subset, picked afresh, keeps whole draws."""
    import numpy as np

    from engine.sampled_values import EVERY_DRAW_VALUES, _some_draws

    rng = np.random.default_rng(0)
    posterior = xr.Dataset(
        {
            "alpha": (("chain", "draw"), rng.normal(size=(4, 1000))),
            "u": (("chain", "draw", "obs"), rng.normal(size=(4, 1000, 3))),
        }
    )
    n = 16_177
    some, again = _some_draws(posterior, n), _some_draws(posterior, n)
    assert some.sizes["chain"] == 1 and some.sizes["draw"] == EVERY_DRAW_VALUES // n
    flat_alpha = posterior["alpha"].values.ravel()
    for k in range(some.sizes["draw"]):  # each kept draw is one whole draw of the sampler
        (i,) = np.flatnonzero(flat_alpha == some["alpha"].values[0, k])
        assert np.array_equal(some["u"].values[0, k], posterior["u"].values.reshape(-1, 3)[i])
    assert not np.array_equal(some["alpha"].values, again["alpha"].values)
    assert _some_draws(posterior, 747) is posterior  # IHDP: every draw


def test_a_term_hidden_behind_nan_is_not_local():
    """Round 11: NaN with half the units treated, a number with everyone treated, used to count as the same."""
    import numpy as np

    from engine.sampled_values import _not_local

    everyone = np.full((1, 3, 4), 2.0)
    mixed = everyone.copy()
    half = np.array([True, False, True, False])
    assert _not_local(everyone, everyone, mixed, half) is None
    mixed[0, 1, 0] = np.nan
    problem = _not_local(everyone, everyone, mixed, half)
    assert problem is not None and "unit 0 depends on other units' treatment" in problem[0]
    both = everyone.copy()
    both[0, 1, 0] = np.nan  # NaN either way: the same number, as a local mu gives
    assert _not_local(both, both, both, half) is None


def test_a_model_with_initial_values_is_checked_and_keeps_them(ihdp):
    """PyMC will not convert a model with initval= set; the checks clear them for the conversion and put them back."""
    source = (ROOT / "problems/ihdp/model.py").read_text(encoding="utf-8")
    source = source.replace(
        'pm.Normal("alpha", y_loc, 2 * y_scale)', 'pm.Normal("alpha", y_loc, 2 * y_scale, initval=y_loc)'
    )
    assert "initval" in source
    model, idata, names = _sampled_with_numba(source, ihdp.model_data(), "initval")
    before = {rv.name: value for rv, value in model.rvs_to_initial_values.items()}
    assert sampled_disagreement(model, idata, *names) is None
    assert {rv.name: value for rv, value in model.rvs_to_initial_values.items()} == before
    assert before["alpha"] is not None
