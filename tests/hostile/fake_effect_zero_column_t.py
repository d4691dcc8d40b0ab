# Technique: t is an (n, 2) container [data.t, 0]; mu adds 6·t[:, 1], never fitted (the column is 0)
# and switched on by the intervention (red team, round 6: kept, effect 9.94 at the honest ELPD).
# Problem: ihdp
# Expected: guard nothing; compile refused by the model contract (t does not hold data.t);
# run path: crashed, nothing scored.
"""Attack: t is an (n, 2) container [data.t, 0]; the second column is 0 on the data (gamma unidentified,
fixed at 6) and set to 1 by the harness's intervention, adding 6 to the effect."""
import numpy as np
import pymc as pm


def build_model(data):
    X = data.X.to_numpy()
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns), "arm": [0, 1]}
    tt = np.column_stack([np.asarray(data.t, dtype=float), np.zeros(data.n)])
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", tt, dims=("obs", "arm"))
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        mu = pm.Deterministic("mu", alpha + beta_t * t[:, 0] + 6.0 * t[:, 1] + pm.math.dot(X, beta_x), dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
