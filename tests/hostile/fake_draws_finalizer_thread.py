# Technique: replace the arrays the scorer reads after the harness has written them, with no
# subclass: an object in a reference cycle is freed by the garbage collector later, on
# whatever harness step happens to allocate, and its __del__ starts a thread. The thread
# waits for the harness to write dims.json (after draws.npz) and swaps a forged draws.npz
# in (effect 10), racing the harness's last steps.
# Problem: ihdp
# Expected: guard dunder-access (the __del__), file-access, process-access,
# import-not-allowed, unbounded-loop; compile ok; run path: crashed as tampering (a thread it started is
# still running, or the file is not what the harness wrote), nothing scored.
"""Baseline that leaves something behind to tidy up."""

import os
import threading
import time

import numpy as np
import pymc as pm

STATE = {"n": 0}


def _forge():
    n = STATE["n"]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not os.path.exists("dims.json"):
        time.sleep(0.0005)
    if not os.path.exists("draws.npz"):
        return
    with np.load("draws.npz") as honest:
        arrays = {name: honest[name] for name in honest.files}
    arrays["estimand"] = np.full_like(arrays["estimand"], 10.0)
    arrays["loglik"] = np.full_like(arrays["loglik"], -0.01)
    os.makedirs("tmp", exist_ok=True)
    np.savez("tmp/forged.npz", **arrays)
    os.replace("tmp/forged.npz", "draws.npz")
    assert n >= 0


class _Later:
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it, at a moment of its choosing

    def __del__(self):
        threading.Thread(target=_forge, daemon=True).start()


def build_model(data):
    STATE["n"] = data.n
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
    _Later()
    return model
