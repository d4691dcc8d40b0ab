"""The estimand by intervention, on simulated data with a known, heterogeneous effect.

Data: y = 1 + x1 + 0.5·x2 + t·(2 + 1.5·x1) + noise, with treatment more likely for large
x1 (and for fewer than half the units), so the treated gain more than average (ATT > ATE),
and so does the overlap population, centred where e(x) = 0.5, at x1 > 0 (ATO > ATE). One correctly specified model is compiled and sampled once for the module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.effects import (
    UNIT_EFFECT,
    add_unit_effects,
    compute_potential_outcomes,
    estimand_weights,
    propensity,
    summarize_effect,
    take_unit_effects,
)
from engine.errors import ModelContractError
from engine.problem import Contract, Estimand, OutcomeType, SamplingSettings, build_model_data

N = 400
SETTINGS = SamplingSettings(chains=2, draws=500, tune=500, seed=11)


def simulate(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=N), rng.normal(size=N)
    t = (rng.random(N) < 1 / (1 + np.exp(-(1.5 * x1 - 1.0)))).astype(float)  # overlap centred on x1 > 0
    tau = 2.0 + 1.5 * x1
    y = 1.0 + x1 + 0.5 * x2 + t * tau + rng.normal(0, 0.5, size=N)
    return pd.DataFrame({"x1": x1, "x2": x2, "t": t, "y": y}), tau


CONTRACT = Contract("t", "y", OutcomeType.CONTINUOUS, Estimand.ATE, controls=("x1", "x2"))


def build(data):
    import pymc as pm

    X = data.X.to_numpy()
    with pm.Model(coords={"obs": np.arange(data.n)}) as model:
        t = pm.Data("t", data.t, dims="obs")
        effect = pm.Normal("beta_t", 0, 5) + pm.math.dot(X, pm.Normal("beta_tx", 0, 2, shape=2))
        mu = pm.Deterministic(
            "mu", pm.Normal("alpha", 0, 5) + pm.math.dot(X, pm.Normal("beta_x", 0, 2, shape=2)) + t * effect, dims="obs"
        )
        pm.Normal("y", mu, pm.HalfNormal("sigma", 2), observed=data.y, dims="obs")
    return model


@pytest.fixture(scope="module")
def fitted():
    """(data, true unit effects, model, trace, unit effects from the in-sampler route)."""
    from engine.sampling import sample

    frame, tau = simulate()
    data = build_model_data(frame, CONTRACT)
    model = build(data)
    assert add_unit_effects(model) == UNIT_EFFECT
    idata = sample(model, SETTINGS, budget_s=120)
    unit = take_unit_effects(idata)
    return data, tau, model, idata, unit


def test_helper_variables_leave_the_trace(fitted) -> None:
    _, _, _, idata, unit = fitted
    assert UNIT_EFFECT not in idata.posterior
    assert unit.shape == (2, 500, N)


def test_ate_recovers_the_true_effect(fitted) -> None:
    data, tau, _, _, unit = fitted
    effect, per_draw = summarize_effect(unit, estimand_weights("ATE", data.t), "ATE")
    assert per_draw.shape == (2, 500)
    assert effect.estimand == "ATE"
    assert effect.hdi_low < tau.mean() < effect.hdi_high
    assert effect.hdi_low < effect.mean < effect.hdi_high
    assert effect.width < 0.5  # informative, not just wide


def test_att_and_ato_differ_from_the_ate_when_effects_vary(fitted) -> None:
    data, tau, _, _, unit = fitted
    ate, _ = summarize_effect(unit, estimand_weights("ATE", data.t), "ATE")
    att, _ = summarize_effect(unit, estimand_weights("ATT", data.t), "ATT")
    weights = estimand_weights("ATO", data.t, data.X)
    ato, _ = summarize_effect(unit, weights, "ATO")
    true_att = tau[data.t == 1].mean()
    assert att.hdi_low < true_att < att.hdi_high
    assert ato.hdi_low < float(weights @ tau) < ato.hdi_high
    assert att.mean - ate.mean > 0.3  # the treated have larger x1, so they gain more
    assert ato.mean - ate.mean > 0.3  # the overlap population sits at larger x1 too
    assert (att.estimand, ato.estimand) == ("ATT", "ATO")


def test_in_sampler_and_post_hoc_routes_agree(fitted) -> None:
    _, _, model, idata, unit = fitted
    mu1, mu0 = compute_potential_outcomes(model, idata)
    np.testing.assert_allclose(mu1 - mu0, unit, atol=1e-9)
    # Under t = 1 everywhere, mu1 is the model's mu for the treated units.
    treated = model["t"].get_value() == 1
    np.testing.assert_allclose(mu1[..., treated], idata.posterior["mu"].values[..., treated], atol=1e-9)


def test_matches_pymc_do_and_posterior_predictive(fitted) -> None:
    import pymc as pm

    data, _, model, idata, unit = fitted
    small = idata.isel(draw=slice(0, 25))
    means = []
    for value in (1.0, 0.0):
        with pm.do(model, {"t": np.full(data.n, value)}):
            pred = pm.sample_posterior_predictive(small, var_names=["mu"], predictions=True, progressbar=False)
        means.append(pred.predictions["mu"].values)
    np.testing.assert_allclose(means[0] - means[1], unit[:, :25], atol=1e-9)


# --------------------------------------------------------------------------- pure parts


def test_estimand_weights() -> None:
    t = np.array([1, 0, 0, 1.0])
    np.testing.assert_allclose(estimand_weights("ATE", t), 0.25)
    np.testing.assert_allclose(estimand_weights(Estimand.ATT, t), [0.5, 0, 0, 0.5])
    X = pd.DataFrame({"x": [2.0, -1.0, -2.0, 1.0]})
    ato = estimand_weights("ato", t, X)
    e = propensity(t, X)
    np.testing.assert_allclose(ato, e * (1 - e) / (e * (1 - e)).sum())
    assert ato.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="design matrix"):
        estimand_weights("ATO", t)
    with pytest.raises(ValueError, match="treated"):
        estimand_weights("ATT", np.zeros(3))


def test_summarize_effect_on_known_draws() -> None:
    import arviz as az

    rng = np.random.default_rng(0)
    per_unit = rng.normal(4.0, 0.1, size=(2, 1000, 1)) + np.array([-1.0, 0.0, 1.0])  # unit means 3, 4, 5
    effect, per_draw = summarize_effect(per_unit, np.ones(3), "ATE")
    assert effect.mean == pytest.approx(per_unit.mean(), abs=1e-12)
    assert effect.sd == pytest.approx(per_draw.std(ddof=1))
    low, high = az.hdi(per_draw.ravel(), hdi_prob=0.94)
    assert (effect.hdi_low, effect.hdi_high) == (pytest.approx(low), pytest.approx(high))
    treated_only, _ = summarize_effect(per_unit, np.array([0, 0, 1.0]), "ATT")
    assert treated_only.mean == pytest.approx(5.0, abs=0.02)


def test_non_finite_effects_are_refused() -> None:
    with pytest.raises(ValueError, match="not finite"):
        summarize_effect(np.full((1, 3, 2), np.inf), np.ones(2), "ATE")


def test_model_contract_is_enforced() -> None:
    import pymc as pm

    data = build_model_data(simulate()[0], CONTRACT)
    with pm.Model() as no_t:
        pm.Deterministic("mu", pm.Normal("a") + data.t)
    with pytest.raises(ModelContractError, match="data container named 't'"):
        add_unit_effects(no_t)
    with pm.Model() as t_unused:
        pm.Data("t", data.t)
        pm.Deterministic("mu", pm.Normal("a") + data.t)  # data.t, not the container
    with pytest.raises(ModelContractError, match="does not depend"):
        add_unit_effects(t_unused)
    with pm.Model() as no_mu:
        pm.Data("t", data.t)
    with pytest.raises(ModelContractError, match="mu"):
        add_unit_effects(no_mu)
