# Technique: swap a library function the harness runs after build_model for another library
# function (no code of the model's own stays alive): np.savez, which writes draws.npz, becomes
# np.savez_compressed. Harmless here, but any swap of what the harness runs is refused.
# Problem: ihdp
# Expected: guard monkeypatch, file-access; compile ok; run path: crashed by the integrity tripwire, nothing scored.
import numpy as np
import pymc as pm

np.savez = np.savez_compressed


def build_model(data):
    X = data.X.to_numpy()
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x), dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
