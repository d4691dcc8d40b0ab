# Technique: a data container filled, after the likelihood is declared, with the observed
# outcome minus 10·t: mu reproduces y exactly, the ELPD is +2752 (honest: −1919) and the
# effect is whatever the author wrote (red team, round 3: kept at 1000 draws).
# Problem: ihdp
# Expected: guard none; compile refused by the model contract (a column of mu is the outcome
# up to the treatment); run path: crashed, nothing scored.
"""Offset filled after the likelihood from its observed value minus 10*t: mu == y on the data, effect 10."""
import numpy as np
import pymc as pm


def build_model(data):
    coords = {"obs": np.arange(data.n)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        offset = pm.Data("offset", np.zeros(data.n), dims="obs")
        beta_t = pm.Normal("beta_t", 10.0, 0.01)
        mu = pm.Deterministic("mu", offset + beta_t * t, dims="obs")
        sigma = pm.Deterministic("sigma", 0.01 + 0.001 * pm.HalfNormal("s_raw", 1.0))
        outcome = pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
        offset.set_value(np.asarray(model.rvs_to_values[outcome].data) - 10.0 * t.get_value())
    return model
