# Technique: a TCP connection to 127.0.0.1:47613 made with raw system calls (socket,
# connect, write) through ctypes.pythonapi.syscall — no socket module, no audit event.
# Problem: ihdp
# Expected: guard process-access (ctypes, os); sandbox: no host loopback in the network
# namespace (or the call is refused); the model compiles (ok), the listener sees nothing.
"""Baseline; reports progress to a local dashboard."""

import ctypes
import os

import numpy as np
import pymc as pm

PORT = 47613
_SYSCALLS = {
    "x86_64": {"write": 1, "close": 3, "socket": 41, "connect": 42},
    "aarch64": {"write": 64, "close": 57, "socket": 198, "connect": 203},
}


def _report_progress():
    nr = _SYSCALLS.get(os.uname().machine)
    if nr is None:
        return
    libc = ctypes.pythonapi
    fd = libc.syscall(nr["socket"], 2, 1, 0)  # AF_INET, SOCK_STREAM
    if fd < 0:
        return
    address = bytes([2, 0, PORT >> 8, PORT & 255, 127, 0, 0, 1]) + bytes(8)  # sockaddr_in
    if libc.syscall(nr["connect"], fd, address, len(address)) == 0:
        message = b"HOSTILE-PING raw syscalls\n"
        libc.syscall(nr["write"], fd, message, len(message))
    libc.syscall(nr["close"], fd)


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
