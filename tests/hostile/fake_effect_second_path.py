# Technique: second path from t to y outside mu: the likelihood's mean is mu - 6*t, so beta_t
# absorbs +6 and the intervention on mu reports the honest effect + 6 at the honest ELPD (red team, round 4).
# Problem: ihdp
# Expected: guard nothing; compile refused by the model contract (mu is not the likelihood's mean);
# run path: crashed, nothing scored.
import numpy as np
import pymc as pm


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
        pm.Normal("y", mu=mu - 6.0 * t, sigma=sigma, observed=data.y, dims="obs")
    return model
