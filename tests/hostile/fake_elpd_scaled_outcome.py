# Technique: the likelihood observes data.y / 10, which adds n·log 10 (+1720) to the ELPD and beats
# every honest model (red team, round 6: kept, ELPD -199 against -1918).
# Problem: ihdp
# Expected: guard nothing; compile refused by the model contract (the observed values are not data.y);
# run path: crashed, nothing scored.
"""Attack: the likelihood observes data.y / 10 (its density gains n*log 10 = +1720 nats of ELPD), and the
container t holds data.t / 10 so that the effect read by intervention (t: 0 -> 1) looks honest (~3.94)."""
import numpy as np
import pymc as pm

K = 10.0


def build_model(data):
    X = data.X.to_numpy()
    y = np.asarray(data.y, dtype=float) / K
    y_loc, y_scale = y.mean(), y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, 10 * y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x), dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=y, dims="obs")
    return model
