# Technique: the baseline plus a per-unit offset whose Interval transform bounds pin it to -6*t_obs:
# a copy of the treatment hidden in a transform (red team, round 7: kept at one seed, effect 9.91,
# honest ELPD).
# Problem: ihdp
# Expected: guard import-not-allowed, process-access, treatment-not-container; compile refused by the
# model contract (a transform of the model's own choosing); run path: crashed.
"""Attack A (bounds_fn = partial(max, stacked bounds, key=sys.getsizeof), a library callable): per-unit offset whose Interval *transform* bounds pin it to -6*t_obs.
The copy of t lives in rvs_to_transforms, outside every graph the contract walks and the fingerprint evaluates."""
import functools
import sys
import numpy as np
import pymc as pm
from pymc.distributions.transforms import Interval


def build_model(data):
    Xd = data.X.drop(columns=["site7"])
    X = Xd.to_numpy() - Xd.to_numpy().mean(0)
    y_loc, y_scale = data.y.mean(), data.y.std()
    shift = -6.0 * np.asarray(data.t, dtype=float)
    coords = {"obs": np.arange(data.n), "control": list(Xd.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        off = pm.Normal("off", 0, 10, dims="obs", transform=Interval(bounds_fn=functools.partial(max, np.stack([shift - 0.01, shift + 0.01]), key=sys.getsizeof)), initval=shift)
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x) + off, dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
