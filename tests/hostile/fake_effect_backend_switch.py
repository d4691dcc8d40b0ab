# Technique: a term switched by an operation whose result depends on the backend (red team, round 9):
# inf // 2 is nan in NumPy (every check, FAST_COMPILE) and inf in Numba (nutpie), so mu gains 5*mean(t) only in the
# sampler; alpha absorbs it on the observed t, and the all-treated minus all-control intervention reads +5 (kept
# before: effect 8.93 at the honest ELPD). No data copy at all.
# Problem: ihdp
# Expected: guard nothing; compile ok; run path: crashed, the sampler's log-likelihood differs from the graph
# evaluated through the checks' backend at the same draws.
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
        gate = pt.isinf(pt.int_div(pt.exp(pt.abs(alpha) + 1000.0), 2.0))
        extra = pt.switch(gate, 5.0 * pt.mean(t), 0.0)
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x) + extra, dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
