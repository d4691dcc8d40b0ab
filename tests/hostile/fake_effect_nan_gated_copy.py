# Technique: a treatment copy switched on in ~10 % of the posterior draws, hidden behind NaN (red team, round 11):
# mu is NaN for every treatment but the observed one, everyone treated and no one treated, so each locality check
# and the second build's digest compared NaN with NaN and passed (kept before: effect mean 9.33, honest ELPD).
# The copy is read back with t.get_value(True), which the guard's read-back rule then missed (it matches now).
# Problem: ihdp
# Expected: guard treatment-not-container; compile: the model contract refuses it (a unit's mu is NaN with t set
# for it alone and a number with t set for everyone).
import numpy as np
import pymc as pm
import pytensor.tensor as pt


def build_model(data):
    X = data.X.to_numpy()
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        tt = np.asarray(t.get_value(True), dtype=float)  # a positional argument: the guard once wanted none
        n1, n = float(tt.sum()), float(data.n)
        K = 2.0 * tt + np.random.default_rng(7).uniform(0.0, 0.5, size=tt.shape)
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        sigma = pm.HalfNormal("sigma", y_scale)
        z = pm.Normal("z", 0, 1)
        tf = pt.cast(t, "float64")
        s = tf.sum()
        special = pt.or_(pt.or_(pt.eq(s, n1), pt.eq(s, n)), pt.eq(s, 0.0))
        t_copy = pt.cast(pt.gt(pt.as_tensor(K), 1.0), "float64")
        gate = pt.cast(pt.and_(pt.gt(z, 1.2816), pt.and_(pt.gt(sigma, 2.8), pt.lt(sigma, 3.4))), "float64")
        extra = 50.0 * gate * (tf - t_copy) + pt.switch(special, 0.0, np.nan)
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x) + extra, dims="obs")
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
