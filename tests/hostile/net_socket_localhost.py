# Technique: a TCP connection to 127.0.0.1:47613 with the socket module (the test listens
# there), sending a greeting.
# Problem: ihdp
# Expected: guard network-access (socket); sandbox: refused (audit hook) and no host
# loopback in the network namespace; the model compiles (ok), the listener sees nothing.
"""Baseline; reports progress to a local dashboard."""

import socket

import numpy as np
import pymc as pm

PORT = 47613


def _report_progress():
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=2) as conn:
            conn.sendall(b"HOSTILE-PING socket module\n")
    except OSError:
        return


def build_model(data):
    _report_progress()
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
