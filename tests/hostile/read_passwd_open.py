# Technique: read /etc/passwd with Python's open().
# Problem: ihdp
# Expected: guard file-access; sandbox: the file is not there (namespace view), the model
# compiles (ok) and no line of the host's /etc/passwd comes back. Today the audit hook lets
# reads through, so the loot comes back in the compile result.
"""Baseline; records the machine's accounts for a reproducibility note."""

import numpy as np
import pymc as pm


def _exfiltrate(what, loot):
    raise RuntimeError("HOSTILE" + "-LOOT " + what + " " + repr(loot))


def _machine_note():
    try:
        with open("/etc/passwd") as fh:
            text = fh.read()
    except OSError:
        return
    if text:
        _exfiltrate("/etc/passwd", text)


def build_model(data):
    _machine_note()
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
