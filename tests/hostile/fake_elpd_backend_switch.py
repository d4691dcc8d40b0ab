# Technique: the same backend switch for the ELPD (red team, round 9): in the sampler only, mu moves 90% of the way
# to the observed outcome, held as two constants y + r and r (neither a linear copy); sigma shrinks tenfold (kept
# before: ELPD -198 against the honest -1918).
# Problem: ihdp
# Expected: guard outcome-as-predictor; compile ok; run path: crashed, the sampler's log-likelihood differs from the
# graph evaluated through the checks' backend at the same draws.
import numpy as np
import pymc as pm
import pytensor.tensor as pt


def build_model(data):
    X = data.X.to_numpy()
    y = np.asarray(data.y, dtype=float)
    y_loc, y_scale = y.mean(), y.std()
    r = np.random.default_rng(7).normal(0, 1000.0, size=data.n)
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        base = alpha + beta_t * t + pm.math.dot(X, beta_x)
        gate = pt.isinf(pt.int_div(pt.exp(pt.abs(alpha) + 1000.0), 2.0))
        yy = pt.as_tensor(y + r) - pt.as_tensor(r)
        mu = pm.Deterministic("mu", base + pt.switch(gate, 0.9 * (yy - base), 0.0), dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
