# Technique: a Potential only the compiled sampler switches on (red team, round 9, our follow-up): inf // 2 is nan in
# NumPy (every check) and inf in Numba (nutpie), so in the sampler a steep Potential pins beta_t at 10; every check
# sees a zero Potential, and the scored log-likelihood and estimand are the graph's own at the pinned draws.
# Problem: ihdp
# Expected: guard nothing; compile ok; run path: crashed, the sampler's log-density differs from the graph's.
import numpy as np
import pymc as pm
import pytensor.tensor as pt


def build_model(data):
    X = data.X.to_numpy()
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x), dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
        gate = pt.isinf(pt.int_div(pt.exp(pt.abs(alpha) + 1000.0), 2.0))
        pm.Potential("pin", pt.switch(gate, -5000.0 * (beta_t - 10.0) ** 2, 0.0))
    return model
