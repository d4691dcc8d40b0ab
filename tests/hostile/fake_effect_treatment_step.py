# Technique: a step on an aggregate of the treatment. 6·t·[mean(t) > 0.99] is 0 on the data
# and on every unit treated alone, but adds 6 to the effect when everyone is treated at once.
# Problem: ihdp
# Expected: guard none; compile refused by the model contract (a unit's mu depends on other
# units' treatment); run path: crashed, nothing scored.
"""Baseline with a saturation term."""

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
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x) + 6.0 * t * pm.math.gt(t.mean(), 0.99), dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
