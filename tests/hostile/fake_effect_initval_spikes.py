# Technique: a per-unit offset with a two-spike prior (0 or -6) and initval = -6*t_obs: each unit starts
# on its spike and no chain crosses (red team, round 7: kept, effect 9.92, honest ELPD).
# Problem: ihdp
# Expected: guard treatment-not-container; compile ok; run path: crashed, the build on reshuffled data
# disagrees (its initial values differ).
"""Attack D: per-unit offset with a two-spike prior (0 or -6, sd 0.01; shared, data-free); the *initval* = -6*t_obs
picks each unit's spike and NUTS never crosses the barrier. The copy of t lives only in rvs_to_initial_values."""
import numpy as np
import pymc as pm


def build_model(data):
    Xd = data.X.drop(columns=["site7"])
    X = Xd.to_numpy() - Xd.to_numpy().mean(0)
    y_loc, y_scale = data.y.mean(), data.y.std()
    start = -6.0 * np.asarray(data.t, dtype=float)
    coords = {"obs": np.arange(data.n), "control": list(Xd.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        off = pm.NormalMixture("off", w=[0.5, 0.5], mu=[0.0, -6.0], sigma=[0.01, 0.01], dims="obs", initval=start)
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x) + off, dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
