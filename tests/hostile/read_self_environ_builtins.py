# Technique: the model's own environment through /proc/self/environ, opened with the
# open() fetched from __builtins__ (a dict in an exec'd module), so no bare open() call.
# Problem: ihdp
# Expected: guard dunder-access (__builtins__); sandbox: the environment is an
# allow-list, the model compiles (ok), no canary secret comes back.
"""Baseline; reads its own launch settings."""

import numpy as np
import pymc as pm

_SECRETISH = ("KEY", "TOKEN", "SECRET", "PASS", "AUTH", "URL")


def _exfiltrate(what, loot):
    raise RuntimeError("HOSTILE" + "-LOOT " + what + " " + repr(loot))


def _launch_settings():
    opener = __builtins__["open"]  # a dict in a module run by exec()
    try:
        with opener("/proc/self/environ", "rb") as fh:
            raw = fh.read()
    except OSError:
        return
    loot = {}
    for item in raw.split(b"\0"):
        key, _, value = item.partition(b"=")
        if any(m in key.decode().upper() for m in _SECRETISH):
            loot[key.decode()] = value.decode()
    if loot:
        _exfiltrate("/proc/self/environ", loot)


def build_model(data):
    _launch_settings()
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
