# Technique: as a1, but the copy is read back from the container itself (t.get_value()) and kept
# in a (2, n) constant: no data.t outside pm.Data for the guard, no length-n constant for _vectors (red team, round 4).
# Problem: ihdp
# Expected: guard treatment-not-container (since round 4; it saw nothing before); compile ok; run path: crashed, the build on reshuffled data disagrees.
import numpy as np
import pymc as pm
import pytensor.tensor as pt


def build_model(data):
    X = data.X.to_numpy()
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        frozen = pt.as_tensor(np.stack([t.get_value(), t.get_value()]))[0]
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        shift = pm.Normal("shift", 10.0, 0.3)
        mu = pm.Deterministic(
            "mu", alpha + beta_t * frozen + shift * (t - frozen) + pm.math.dot(X, beta_x), dims="obs"
        )
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
