# Technique: run a shell command with subprocess.run(["/bin/sh", "-c", …]): it dumps its
# environment into the session folder and touches a marker in /tmp.
# Problem: ihdp
# Expected: guard process-access (os, subprocess); sandbox: refused (audit hook), the
# model compiles (ok), no marker appears in the session or /tmp.
"""Baseline; warms the BLAS library with a helper process first."""

import os
import subprocess

import numpy as np
import pymc as pm

# Absolute paths an agent may have learned (from a prompt, a README, a traceback); the test
# fills in the session and the problem folder it made.
KNOWN = ()


def _marker_command(name):
    here = os.getcwd()
    parents = (os.path.dirname(here), os.path.dirname(os.path.dirname(here)), *KNOWN)
    root = next((p for p in parents if os.path.exists(os.path.join(p, "session.json"))), here)
    return f'env > "{root}/hostile-{name}"; touch /tmp/causal-workbench-hostile-{name}'


def _warm_blas():
    command = _marker_command("spawn_subprocess")
    try:
        subprocess.run(["/bin/sh", "-c", command], check=False)
    except OSError:
        return


def build_model(data):
    _warm_blas()
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
