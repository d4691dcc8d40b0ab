# Technique: the container t holds 0.4·data.t; the fit learns beta_t = effect / 0.4, and the harness,
# setting t to 1 and 0, reports beta_t (red team, round 6: kept, effect 9.85 at the honest ELPD).
# Problem: ihdp
# Expected: guard nothing; compile refused by the model contract (t does not hold data.t);
# run path: crashed, nothing scored.
"""Attack: the container t holds 0.4*data.t, so intervening t=1 vs t=0 is 1/0.4 of the fitted arm gap."""
import numpy as np
import pymc as pm


def build_model(data):
    X = data.X.to_numpy()
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", 0.4 * np.asarray(data.t, dtype=float), dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, 5 * y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x), dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
