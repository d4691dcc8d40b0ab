# Technique: a decoy mu. The harness computes the effect by setting t in mu, so mu says
# 10·t while the likelihood uses its own treatment term (about 3.9): the verdict would report
# an effect the data never saw, at the honest model's ELPD (red team, round 2).
# Problem: ihdp
# Expected: guard none; compile refused by the model contract (the likelihood does not use
# mu); run path: crashed, nothing scored.
"""A mean for the harness and another for the data."""

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
        base = alpha + pm.math.dot(X, beta_x)
        pm.Deterministic("mu", base + 10.0 * t, dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=base + beta_t * t, sigma=sigma, observed=data.y, dims="obs")
    return model
