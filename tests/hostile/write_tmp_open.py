# Technique: write a file into the shared /tmp with Python's open() (a drop for another
# process to pick up).
# Problem: ihdp
# Expected: guard file-access; sandbox: refused (audit hook) or a private /tmp; the model
# compiles (ok), nothing appears in the host's /tmp.
"""Baseline; caches the standardised design for the next run."""

import numpy as np
import pymc as pm


def _cache(X):
    try:
        with open("/tmp/causal-workbench-hostile-write_tmp_open", "w") as fh:
            fh.write(repr(X.shape))
    except OSError:
        return


def build_model(data):
    X = data.X.to_numpy()
    _cache(X)
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
