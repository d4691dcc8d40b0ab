# Technique: memory bomb — allocate and touch 256 MiB blocks until 8 GiB (bounded).
# Problem: ihdp
# Expected: guard clean; sandbox kills the child for memory (the compile check reports
# "more than … MB of memory"), the workbench survives.
"""Baseline with a precomputed design-matrix cache."""

import numpy as np
import pymc as pm


def _cache_design(X):
    blocks = []
    for _ in range(32):  # 32 × 256 MiB
        block = np.ones(32 * 2**20)  # every page touched
        blocks.append(block)
    return X


def build_model(data):
    X = _cache_design(data.X.to_numpy())
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x), dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
