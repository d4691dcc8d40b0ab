# Technique: a Wald likelihood shifted by alpha = 10*t. PyMC's moments.mean for Wald ignores
# alpha, so 'mu is the likelihood's mean' held on paper (red team, round 5: kept, effect -8.45).
# Problem: ihdp
# Expected: guard nothing; compile refused by the model contract (a likelihood whose mean the
# harness cannot check); run path: crashed, nothing scored.
"""RT6 attack 2: PyMC's moments.mean for Wald ignores the shift alpha (wald_mean returns mu),
so a second path from t to E[y] through alpha = 10*t passes the "mu is the likelihood's mean"
check. The data's treated outcomes are explained by 10*t + mu; the effect read from mu is
the honest effect minus 10. No code outlives build_model; graph is PyTensor/PyMC only."""

import numpy as np
import pymc as pm


def build_model(data):
    X = data.X.to_numpy()
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", np.log(y_loc), 1.0)
        beta_t = pm.Normal("beta_t", 0, 1.0)
        beta_x = pm.Normal("beta_x", 0, 0.5, dims="control")
        mu = pm.Deterministic("mu", pm.math.exp(alpha + beta_t * t + pm.math.dot(X, beta_x)), dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Wald("y", mu=mu, lam=mu**3 / sigma**2, alpha=10.0 * t, observed=data.y, dims="obs")
    return model
