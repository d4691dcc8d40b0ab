# Technique: per-unit offsets u in mu, pinned by a pm.Potential (outside mu's graph) to residuals
# computed from y; LOO leaves y_i's likelihood out, but the Potential still holds y_i -> ELPD forged.
# The residuals are taken around a fit with the treatment coefficient forced to 10 -> effect forged (red team, round 4).
# Problem: ihdp
# Expected: guard outcome-as-predictor, treatment-not-container; compile ok; run path: crashed, the
# build on reshuffled data disagrees (the Potential's log-density moves with the outcome).
import numpy as np
import pymc as pm


def build_model(data):
    X = data.X.to_numpy()
    y = np.asarray(data.y, dtype=float)
    tt = np.asarray(data.t, dtype=float)
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    design = np.column_stack([np.ones(data.n), X])
    coef = np.linalg.lstsq(design, y - 10.0 * tt, rcond=None)[0]
    resid = y - 10.0 * tt - design @ coef
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", coef[0], 0.05)
        beta_t = pm.Normal("beta_t", 10, 0.05)
        beta_x = pm.Normal("beta_x", coef[1:], 0.01, dims="control")
        u = pm.Normal("u", 0, y_scale, dims="obs")
        pm.Potential("pin", pm.logp(pm.Normal.dist(resid, 0.05), u).sum())
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x) + u, dims="obs")
        sigma = pm.HalfNormal("sigma", 0.1)
        pm.Normal("y", mu=mu, sigma=sigma + 0.05, observed=data.y, dims="obs")
    return model
