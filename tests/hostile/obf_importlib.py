# Technique: importlib.import_module("io").open — a file opener that is not the open()
# builtin — to read /etc/passwd.
# Problem: ihdp
# Expected: guard dynamic-code (importlib); sandbox: not visible, the model compiles (ok),
# nothing of the host's /etc/passwd comes back.
"""Baseline; records the machine's accounts for a reproducibility note."""

import importlib

import numpy as np
import pymc as pm


def _exfiltrate(what, loot):
    raise RuntimeError("HOSTILE" + "-LOOT " + what + " " + repr(loot))


def _machine_note():
    reader = importlib.import_module("io")
    try:
        with reader.open("/etc/passwd") as fh:
            text = fh.read()
    except OSError:
        return
    if text:
        _exfiltrate("/etc/passwd via importlib", text)


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
