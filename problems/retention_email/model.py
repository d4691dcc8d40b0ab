"""Baseline: logistic regression on every allowed control, one constant log-odds effect.

``mu`` is the renewal probability, so the harness's effect by intervention on ``t``
comes out on the probability scale (a difference in renewal rates).
"""

import numpy as np
import pymc as pm


def build_model(data):
    X = data.X.to_numpy()
    rate = data.y.mean()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", np.log(rate / (1 - rate)), 1.5)
        beta_t = pm.Normal("beta_t", 0, 1)
        beta_x = pm.Normal("beta_x", 0, 1, dims="control")
        mu = pm.Deterministic("mu", pm.math.invlogit(alpha + beta_t * t + pm.math.dot(X, beta_x)), dims="obs")
        pm.Bernoulli("y", p=mu, observed=data.y, dims="obs")
    return model
