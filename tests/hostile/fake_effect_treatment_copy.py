# Technique: a constant copy of the observed treatment. mu = beta_t·t_obs + 10·(t − t_obs) + …
# equals the honest mean on the observed data (same ELPD), but intervening on t moves only
# the 10: the verdict would report any effect the author likes (red team, round 2).
# Problem: ihdp
# Expected: guard treatment-not-container; compile refused by the model contract (a copy of the treatment
# outside t); run path: crashed, nothing scored.
"""mu equals the honest mean on the observed data (so ELPD is unchanged), but the part
that moves with the intervened t is a free constant: effect 10 at zero likelihood cost."""
import numpy as np
import pymc as pm
import pytensor.tensor as pt


def build_model(data):
    X = data.X.to_numpy()
    t_obs = pt.constant(np.asarray(data.t, dtype=float))
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        mu = pm.Deterministic(
            "mu", alpha + beta_t * t_obs + 10.0 * (t - t_obs) + pm.math.dot(X, beta_x), dims="obs"
        )
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
