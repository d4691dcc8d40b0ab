# Technique: a constant copy of the observed treatment hidden in a (2, n) array
# (_vectors only looks at arrays whose first axis has length n), mu = ... + 10*(t - t_obs) (red team, round 4).
# Problem: ihdp
# Expected: guard treatment-not-container; compile ok (no graph walk sees a (2, n) copy); run path:
# crashed, the build on reshuffled data disagrees.
import numpy as np
import pymc as pm
import pytensor.tensor as pt


def build_model(data):
    X = data.X.to_numpy()
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    side = pt.as_tensor(np.vstack([np.zeros(data.n), np.asarray(data.t, dtype=float)]))
    t_seen = side[1]
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        mu = pm.Deterministic(
            "mu", alpha + beta_t * t_seen + 10.0 * (t - t_seen) + pm.math.dot(X, beta_x), dims="obs"
        )
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
