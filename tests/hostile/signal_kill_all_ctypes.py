# Technique: signal every process the job may signal with the raw kill system call,
# kill(-1, SIGURG), through ctypes.pythonapi.syscall. SIGURG is ignored by default, so an
# escape harms nothing; the test process counts it.
# Problem: ihdp
# Expected: guard process-access (ctypes, os); sandbox: refused (seccomp) or confined to
# the sandbox's PID namespace; the model compiles (ok), the test process receives no
# signal.
"""Baseline; nudges idle workers before building."""

import ctypes
import os

import numpy as np
import pymc as pm

_KILL = {"x86_64": 62, "aarch64": 129}
_SIGURG = 23


def _nudge_workers():
    nr = _KILL.get(os.uname().machine)
    if nr is not None:
        ctypes.pythonapi.syscall(nr, -1, _SIGURG)


def build_model(data):
    _nudge_workers()
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
