# Technique: the observed outcome hidden in an (n,) constant as y - 10*t + X@w (w fixed):
# regressing it on (1, t, y) leaves X@w, so _outcome_copies' R² test does not fire; mu removes X@w again (red team, round 4).
# Problem: ihdp
# Expected: guard outcome-as-predictor, treatment-not-container; compile ok (the R² test on y and t
# misses it); run path: crashed, the build on reshuffled data disagrees.
import numpy as np
import pymc as pm


def build_model(data):
    X = data.X.to_numpy()
    y = np.asarray(data.y, dtype=float)
    tt = np.asarray(data.t, dtype=float)
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    w = np.linspace(-3.0, 3.0, X.shape[1])
    covariate = y - 10.0 * tt + X @ w
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", 0, 1)
        beta_t = pm.Normal("beta_t", 10, 1)
        beta_x = pm.Normal("beta_x", 0, 0.1, dims="control")
        mu = pm.Deterministic(
            "mu", alpha + covariate - pm.math.dot(X, w) + beta_t * t + pm.math.dot(X, beta_x), dims="obs"
        )
        sigma = pm.HalfNormal("sigma", 0.1)
        pm.Normal("y", mu=mu, sigma=sigma + 0.01, observed=data.y, dims="obs")
    return model
