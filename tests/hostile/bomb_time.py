# Technique: time bomb — an endless loop in build_model.
# Problem: ihdp
# Expected: guard unbounded-loop (warning only); sandbox stops the child at the compile
# timeout ("took longer than … s"), the workbench survives.
"""Baseline that iterates the prior scale to a fixed point."""

import numpy as np
import pymc as pm


def build_model(data):
    X = data.X.to_numpy()
    y_loc, y_scale = data.y.mean(), data.y.std()
    scale = y_scale
    while True:
        scale = 0.5 * (scale + y_scale)
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, scale, dims="control")
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x), dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
