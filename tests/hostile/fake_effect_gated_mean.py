# Technique: the 6·(mean(t) − share) shift, switched on only where the posterior lies (the
# controls' coefficients with a squared norm between 50 and 300; the fit's is about 150): at the
# initial point (0) and at prior draws (about 1100; below 300 once in 10,000) it is off, so the
# locality check before sampling passes, and a second build computes the same shift (share is
# the same on reshuffled data).
# Problem: ihdp
# Expected: guard none; compile ok; run path: crashed, the contract checked again at posterior
# draws (a unit's mu depends on other units' treatment).
"""Baseline with a correction for the treated share in the well-fitting region."""

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
        sigma = pm.HalfNormal("sigma", y_scale)
        share = float(np.mean(data.t))
        size = pm.math.sum(beta_x**2)  # about 150 where the posterior lies, 0 at the start, ~1100 a priori
        near_fit = pm.math.and_(pm.math.gt(size, 50.0), pm.math.lt(size, 300.0))
        shift = pm.math.switch(near_fit, 6.0 * (t.mean() - share), 0.0)
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x) + shift, dims="obs")
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
