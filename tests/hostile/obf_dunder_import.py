# Technique: __import__ with a concatenated name — __import__("o" + "s").environ.
# Problem: ihdp
# Expected: guard dynamic-code (__import__), obfuscated-access (computed module name);
# sandbox: the environment is an allow-list, the model compiles (ok), no canary secret
# comes back.
"""Baseline; reads thread settings."""

import numpy as np
import pymc as pm

_SECRETISH = ("KEY", "TOKEN", "SECRET", "PASS", "AUTH", "URL")


def _exfiltrate(what, loot):
    raise RuntimeError("HOSTILE" + "-LOOT " + what + " " + repr(loot))


def _settings():
    environ = __import__("o" + "s").environ
    loot = {k: v for k, v in environ.items() if any(m in k.upper() for m in _SECRETISH)}
    if loot:
        _exfiltrate("dunder import", loot)


def build_model(data):
    _settings()
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
