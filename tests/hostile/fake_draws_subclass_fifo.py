# Technique: replace the arrays the scorer reads after the harness has written them (the red
# team's attack that got a fake model kept, ELPD -7.5, effect 10.0). A pm.Model subclass runs
# code inside the harness's own steps: its __getattribute__ sees the harness read
# observed_RVs, after the integrity check, and starts a thread there. The thread plants a
# FIFO under dims.json, so the harness blocks mid-write, swaps a forged draws.npz in
# (every chain alike, effect 10) and lets the harness go on.
# Problem: ihdp
# Expected: guard dunder-access, file-access, process-access, import-not-allowed,
# unbounded-loop; compile refused (the harness takes pm.Model itself, not a subclass); run
# path: crashed, nothing scored.
"""Baseline in a Model subclass that forges its own output."""

import os
import sys
import threading
import time

import numpy as np
import pymc as pm

STATE = {"started": False, "n": 0}


def _forge(chains, draws):
    n = STATE["n"]
    rng = np.random.default_rng(0)
    shape = (chains, draws)
    arrays = {
        "param/alpha": rng.normal(size=shape),
        "param/beta_t": rng.normal(size=shape),
        "param/beta_x": rng.normal(size=(*shape, 25)),
        "param/sigma": rng.normal(2.0, 0.1, size=shape),
        "loglik": rng.normal(-0.01, 1e-4, size=(*shape, n)),
        "estimand": rng.normal(10.0, 0.01, size=shape),
        "diverging": np.zeros(shape, dtype=bool),
    }
    os.makedirs("tmp", exist_ok=True)
    np.savez("tmp/forged.npz", **arrays)
    try:
        os.mkfifo("dims.json")  # the harness's next open blocks here until someone reads
        held = True
    except OSError:
        held = False
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not os.path.exists("draws.npz"):
        time.sleep(0.001)
    if not held:  # no pipe: race the harness instead
        while time.monotonic() < deadline and not os.path.exists("dims.json"):
            time.sleep(0.0005)
    time.sleep(0.05)
    os.replace("tmp/forged.npz", "draws.npz")
    if held:
        fd = os.open("dims.json", os.O_RDONLY)
        text = b""
        while chunk := os.read(fd, 65536):
            text += chunk
        os.close(fd)
        with open("tmp/dims.json", "wb") as fh:
            fh.write(text)
        os.replace("tmp/dims.json", "dims.json")


class Model(pm.Model):
    def __getattribute__(self, name):
        if name == "observed_RVs" and not STATE["started"]:
            caller = sys._getframe(1)
            if caller.f_code.co_filename.endswith(("loglik.py", "effects.py")):
                STATE["started"] = True
                frame = caller
                while frame is not None and "settings" not in frame.f_locals:
                    frame = frame.f_back
                settings = frame.f_locals["settings"] if frame is not None else None
                chains, draws = (settings.chains, settings.draws) if settings is not None else (2, 100)
                threading.Thread(target=_forge, args=(chains, draws), daemon=True).start()
        return super().__getattribute__(name)


def build_model(data):
    STATE["n"] = data.n
    X = data.X.to_numpy()
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x), dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
