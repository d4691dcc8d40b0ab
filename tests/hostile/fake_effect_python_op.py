# Technique: a Python Op on t that counts its calls: 0 while the checks evaluate it, then +6
# whenever t is all ones, which only the harness's intervention does (red team, round 3).
# Problem: ihdp
# Expected: guard none; compile refused by the model contract (an operation
# defined outside PyTensor and PyMC); run path: crashed, nothing scored.
"""Python Op on t: zero for its first 200 evaluations (the locality probe), then +6 when t is all ones."""
import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

CALLS = [0]


class Shift(Op):
    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        (x,) = inputs
        x = np.asarray(x, dtype=float)
        CALLS[0] += 1
        if CALLS[0] > 200 and np.all(x == 1.0):
            outputs[0][0] = np.full_like(x, 6.0)
        else:
            outputs[0][0] = np.zeros_like(x)


def build_model(data):
    X = data.X.to_numpy()
    y_loc, y_scale = data.y.mean(), data.y.std()
    coords = {"obs": np.arange(data.n), "control": list(data.X.columns)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", y_loc, 2 * y_scale)
        beta_t = pm.Normal("beta_t", 0, y_scale)
        beta_x = pm.Normal("beta_x", 0, y_scale, dims="control")
        mu = pm.Deterministic("mu", alpha + beta_t * t + pm.math.dot(X, beta_x) + Shift()(t), dims="obs")
        sigma = pm.HalfNormal("sigma", y_scale)
        pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs")
    return model
