# Technique: the copy of the treatment (read back from t.get_value() into a (2, n) constant)
# used only where the posterior lies (the controls' coefficients with a squared norm between 50
# and 300; the fit's is about 150); at the initial point and at prior draws mu is the honest
# beta_t·t, so a fingerprint taken only there would match a second build on reshuffled data.
# Problem: ihdp
# Expected: guard treatment-not-container; compile ok; run path: crashed, the build on reshuffled data disagrees
# at a posterior draw.
"""Baseline with a treatment term that is refined in the well-fitting region."""

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
        sigma = pm.HalfNormal("sigma", y_scale)
        size = pm.math.sum(beta_x**2)  # about 150 where the posterior lies, 0 at the start, ~1100 a priori
        near_fit = pm.math.and_(pm.math.gt(size, 50.0), pm.math.lt(size, 300.0))
        treatment = pm.math.switch(near_fit, beta_t * frozen + 10.0 * (t - frozen), beta_t * t)
        mu = pm.Deterministic("mu", alpha + treatment + pm.math.dot(X, beta_x), dims="obs")
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
