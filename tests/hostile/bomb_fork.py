# Technique: fork bomb — os.fork() in a loop from build_model (bounded to 64 forks).
# Problem: ihdp
# Expected: guard process-access (import os); sandbox refuses the first fork, so the
# compile check fails with a refusal and no child process survives the job.
"""Baseline with a warm-up step that parallelises the data preparation."""

import os
import time

import numpy as np
import pymc as pm


def _parallel_prepare():
    children = []
    for _ in range(64):
        pid = os.fork()
        if pid == 0:  # a child: linger, then leave without cleanup
            time.sleep(30)
            os._exit(0)
        children.append(pid)
    return children


def build_model(data):
    _parallel_prepare()
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
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
