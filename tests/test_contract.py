"""The second build's fingerprint (engine/contract.py), in this process: what it must and must not tell apart."""

from __future__ import annotations

import secrets
from pathlib import Path

import numpy as np
import pytest

from engine.compile_check import load_model_module
from engine.fingerprint import fingerprint, fingerprint_mismatch, probe_points, reshuffled

ROOT = Path(__file__).resolve().parents[1]
BASELINE = (ROOT / "problems" / "ihdp" / "model.py").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def data(ihdp):
    return ihdp.model_data()


def _build(source: str, data):
    return load_model_module(source, name="workbench_model_test_contract").build_model(data)


def _twice(source: str, data):
    seed = secrets.randbits(63)
    model = _build(source, data)
    real = fingerprint(model, seed, probe_points(model, seed))
    return real, fingerprint(_build(source, reshuffled(data)), seed, real.points)


def test_reshuffled_moves_treatment_and_outcome_together_and_keeps_the_controls(data):
    again = reshuffled(data)
    assert again.X is data.X
    assert sorted(zip(again.t, again.y)) == sorted(zip(data.t, data.y))
    assert not np.array_equal(again.y, data.y)
    assert reshuffled(data).y.tolist() != again.y.tolist()  # a new order every time


def test_the_baseline_gives_the_same_fingerprint_on_reshuffled_data(data):
    real, again = _twice(BASELINE, data)
    assert fingerprint_mismatch(real, again) is None
    assert len(real.values) == len(real.labels) > 2 * 64
    assert len(real.points) == 2  # two prior draws (the harness adds posterior draws)


def test_a_copy_of_the_treatment_no_graph_walk_sees_is_told_apart(data):
    """The copy sits in a (2, n) constant, read back from the container: the form red team round 4 got kept."""
    source = BASELINE.replace("import pymc as pm", "import pymc as pm\nimport pytensor.tensor as pt").replace(
        "beta_t * t", "beta_t * frozen + 10 * (t - frozen)"
    )
    source = source.replace(
        '        alpha = pm.Normal("alpha"',
        '        frozen = pt.as_tensor(np.stack([t.get_value(), t.get_value()]))[0]\n        alpha = pm.Normal("alpha"',
    )
    real, again = _twice(source, data)
    problem = fingerprint_mismatch(real, again)
    assert problem is not None
    assert "reshuffled over the units" in problem[0] and "mu" in problem[0]


def test_a_prior_centred_on_a_scalar_summary_of_the_outcome_is_fine(data):
    """data.y.mean() and .std() are the same on any order of the outcome (up to rounding)."""
    real, again = _twice(BASELINE.replace('pm.Normal("alpha", y_loc', 'pm.Normal("alpha", np.median(data.y)'), data)
    assert fingerprint_mismatch(real, again) is None


def test_other_parameters_are_named(data):
    real, _ = _twice(BASELINE, data)
    other = fingerprint(_build(BASELINE.replace('"beta_t"', '"gamma_t"'), data), real.seed, real.points)
    problem = fingerprint_mismatch(real, other)
    assert problem is not None and "other parameters" in problem[0]


def test_every_verified_likelihoods_mean_is_its_mean_by_simulation():
    """VERIFIED_MEANS trusts PyMC's moments.mean for these: draw from each (one compile) and compare."""
    import pymc as pm
    from pymc.distributions.moments import mean

    from engine.contract import VERIFIED_MEANS, _verified_ops

    likelihoods = {
        "Normal": pm.Normal.dist(mu=2.0, sigma=3.0),
        "StudentT": pm.StudentT.dist(nu=4.0, mu=2.0, sigma=3.0),
        "Bernoulli": pm.Bernoulli.dist(p=0.3),
        "Binomial": pm.Binomial.dist(n=7, p=0.3),
        "Poisson": pm.Poisson.dist(mu=3.5),
        "NegativeBinomial": pm.NegativeBinomial.dist(mu=3.5, alpha=2.0),
        "Gamma": pm.Gamma.dist(alpha=2.0, beta=0.5),
        "LogNormal": pm.LogNormal.dist(mu=0.5, sigma=0.6),
        "Beta": pm.Beta.dist(alpha=2.0, beta=5.0),
        "Exponential": pm.Exponential.dist(lam=0.4),
        "Laplace": pm.Laplace.dist(mu=2.0, b=1.5),
        "Logistic": pm.Logistic.dist(mu=2.0, s=1.5),
    }
    assert tuple(likelihoods) == VERIFIED_MEANS
    assert [type(rv.owner.op) for rv in likelihoods.values()] == list(_verified_ops())
    draws = pm.draw(list(likelihoods.values()), draws=100_000, random_seed=1, mode="FAST_COMPILE")
    expected = pm.math.stack([mean(rv) for rv in likelihoods.values()]).eval(mode="FAST_COMPILE")
    for name, sample, value in zip(likelihoods, draws, expected, strict=True):
        assert abs(sample.mean() - value) < 5 * sample.std() / np.sqrt(sample.size), (name, value, sample.mean())


def test_the_mean_table_is_not_trusted_where_it_is_wrong():
    """Wald's entry ignores its shift alpha: the reason the list is short (red team, round 5)."""
    import pymc as pm
    from pymc.distributions.moments import mean

    from engine.contract import _verified_ops

    rv = pm.Wald.dist(mu=5.0, lam=20.0, alpha=10.0)
    draws = pm.draw(rv, draws=50_000, random_seed=1)
    assert abs(float(mean(rv).eval()) - draws.mean()) > 5  # PyMC says 5, the draws say 15
    assert type(rv.owner.op) not in _verified_ops()


def test_a_shift_switched_on_where_the_posterior_lies_is_refused_at_a_posterior_draw(data):
    """Off at the initial point and at prior draws; the harness checks again at draws it picks after sampling."""
    import pymc as pm

    from engine.contract import intervention_problem

    gate = "pm.math.and_(pm.math.gt(pm.math.sum(beta_x**2), 50.0), pm.math.lt(pm.math.sum(beta_x**2), 300.0))"
    source = BASELINE.replace(
        "beta_t * t + pm.math.dot(X, beta_x)",
        f"beta_t * t + pm.math.dot(X, beta_x) + pm.math.switch({gate}, 6.0 * (t.mean() - float(np.mean(data.t))), 0.0)",
    )
    model = _build(source, data)
    assert intervention_problem(model) is None  # 0 at the initial point, ~1100 at prior draws (< 300: 1 in 10,000)
    drawn = pm.draw(model.free_RVs, random_seed=1)
    where_it_fits = tuple(
        np.full(np.shape(value), 2.5) if rv.name == "beta_x" else value  # squared norm 156, as the fit's
        for rv, value in zip(model.free_RVs, drawn, strict=True)
    )
    problem = intervention_problem(model, [where_it_fits])
    assert problem is not None and "depends on other units' treatment" in problem[0]


def test_a_potential_that_holds_the_outcome_is_told_apart(data):
    """LOO leaves out y's likelihood, not a Potential; reshuffling y moves the Potential's log-density."""
    source = BASELINE.replace(
        "    return model",
        '        pm.Potential("pin", -0.5 * pm.math.sum((mu - data.y) ** 2))\n    return model',
    )
    real, again = _twice(source, data)
    problem = fingerprint_mismatch(real, again)
    assert problem is not None and "potential pin" in problem[0]


def test_a_per_unit_initial_value_from_the_treatment_is_told_apart(data):
    """Where the sampler starts is part of the model: a copy there can pick each unit's mode (red team, round 7)."""
    source = BASELINE.replace(
        "    return model",
        '        pm.Normal("off", 0, 1, dims="obs", initval=-6.0 * np.asarray(data.t))\n    return model',
    )
    real, again = _twice(source, data)
    problem = fingerprint_mismatch(real, again)
    assert problem is not None and "the initial value of off" in problem[0]
