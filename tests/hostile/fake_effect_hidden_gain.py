# Technique: the mean(t) shift of fake_effect_treatment_mean.py, scaled by a parameter whose
# initial value is 0 (initval) and whose prior sits at 6: a check at the starting point sees
# no cross-unit term, the posterior adds 6 to the effect (red team, round 3: kept at 1000 draws).
# Problem: ihdp
# Expected: guard none; compile refused by the model contract (mu is probed at prior draws
# too, on units drawn afresh); run path: crashed, nothing scored.
"""mean(t) shift scaled by a parameter whose initial value is 0 (the probe's point) and posterior ~6."""
import numpy as np
import pymc as pm


def build_model(data):
    X = data.X.to_numpy()
    y_loc, y_scale = data.y.mean(), data.y.std()
    m_obs = float(np.mean(data.t))
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        gain = pm.Normal("gain", 6.0, 0.05, initval=0.0)
        shift = gain * (pm.math.mean(t) - m_obs)
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x) + shift, dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
