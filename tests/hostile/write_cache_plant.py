# Technique: plant files in the compiler caches the audit hook lets jobs write (PyTensor's
# compiledir and base_compiledir, NUMBA_CACHE_DIR), where a later job or the workbench
# would find them.
# Problem: ihdp
# Expected: guard file-access, process-access (os); sandbox: the shared cache is read-only
# to jobs (each job works on its own copy); the model compiles (ok), no planted file
# exists on the host afterwards.
"""Baseline; pre-seeds the compiler cache to speed up the next run."""

import os

import numpy as np
import pymc as pm
import pytensor

PLANT = "hostile_plant_write_cache_plant.py"


def _cache_folders():
    folders = {os.environ.get("NUMBA_CACHE_DIR", "")}
    for setting in (lambda: pytensor.config.compiledir, lambda: pytensor.config.base_compiledir):
        try:
            folders.add(str(setting()))
        except (OSError, ValueError):  # PyTensor raises ValueError when it cannot create the folder
            continue
    return sorted(f for f in folders if f)


def _seed_cache():
    for folder in _cache_folders():
        try:
            with open(os.path.join(folder, PLANT), "w") as fh:
                fh.write("import os\nos.system('touch /tmp/causal-workbench-hostile-cache-plant-ran')\n")
        except OSError:
            continue


def build_model(data):
    _seed_cache()
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
