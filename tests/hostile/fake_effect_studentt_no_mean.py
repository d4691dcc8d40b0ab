# Technique: a Student-t likelihood with nu = 0.7, which has no mean: the 'difference of means' the
# harness reports does not exist (red team, round 5: scored).
# Problem: ihdp
# Expected: guard nothing; compile refused by the model contract (no mean at the initial point);
# run path: crashed, nothing scored.
"""Baseline: linear regression on every allowed control, one constant treatment effect.

The harness computes the effect by intervention on ``t``; this file only describes
how the expected outcome ``mu`` depends on treatment and controls.
"""

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
        pm.StudentT("y", nu=0.7, mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
