# Technique: a skewed Student-t with a per-arm scale. PyMC's moments.mean for SkewStudentT leaves
# the scale out, so the arms' means differ by more than mu says (red team, round 5: kept, -2.94).
# Problem: ihdp
# Expected: guard nothing; compile refused by the model contract (a likelihood whose mean the
# harness cannot check); run path: crashed, nothing scored.
"""RT6 attack 5: PyMC's moments.mean for SkewStudentT omits sigma (returns mu + c(a,b), the true
mean is mu + sigma*c(a,b)). A per-arm noise scale (allowed: "t may still set the noise scale")
then moves E[y] by (sigma_1 - sigma_0)*c without moving mu. Likelihood location = mu - c so the
contract's mean check (mean == mu) holds exactly."""

import numpy as np
import pymc as pm
import pytensor.tensor as pt

A, B = 8.0, 2.0


def build_model(data):
    X = data.X.to_numpy()
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        a_, b_ = pt.as_tensor(A), pt.as_tensor(B)
        C = (a_ - b_) * pt.sqrt(a_ + b_) * pt.gamma(a_ - 0.5) * pt.gamma(b_ - 0.5) / (2 * pt.gamma(a_) * pt.gamma(b_))
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x), dims="obs")
        log_s0 = pm.Normal("log_s0", 0, 1)
        log_s1 = pm.Normal("log_s1", 0, 1)
        sigma = pm.math.exp(log_s0 + (log_s1 - log_s0) * t)
        pm.SkewStudentT("y", a=A, b=B, mu=mu - C, sigma=sigma, observed=data.y, dims="obs")
    return model
