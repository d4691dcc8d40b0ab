"""The second build: what a model computes at points nobody chose, and the same model built on reshuffled data.

The contract's graph walks look for a copy of the treatment or outcome where one usually sits
(a length-n constant, a data container); a copy can hide in any other encoding. So the model
child takes a :class:`Fingerprint` after sampling, at prior and posterior draws picked then;
a third child builds ``model.py`` again from the data with treatment and outcome moved together
to other units (:func:`reshuffled`, an order only the workbench knows) and must compute the same
numbers. A build that uses ``t`` through the container and ``y`` in ``observed=`` and in scalar
summaries does; one that reads either unit by unit anywhere else cannot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from engine.contract import Point, prior_points
from engine.problem import ModelData

FINGERPRINT_POINTS = 2
"""Prior draws, from a seed made after the build, at which both builds must agree (besides posterior draws)."""
FINGERPRINT_UNITS = 64
"""Units compared one by one, besides the mean over all units."""
FINGERPRINT_RTOL = 1e-7
"""Agreement asked of the two builds (a reshuffled outcome's mean and sd differ by rounding only)."""


@dataclass(frozen=True)
class Fingerprint:
    """What a model computes at parameter values nobody chose: a second build must compute the same.

    ``values[i]`` is described by ``labels[i]``; ``layout`` names the free variables and their
    shapes, ``points`` holds the values they were evaluated at (prior draws and posterior
    draws, in ``model.free_RVs`` order), so the second build evaluates at exactly those.
    """

    seed: int
    layout: tuple[str, ...]
    points: tuple[Point, ...]
    labels: tuple[str, ...]
    values: tuple[float, ...]


def probe_points(model: Any, seed: int, posterior: Sequence[Point] = ()) -> tuple[Point, ...]:
    """Prior draws from ``seed`` and the given posterior draws: where the two builds are compared.

    Parameters
    ----------
    model
        A model that keeps the contract.
    seed
        Drawn after the build.
    posterior
        Draws the sampler made, picked after sampling (a term gated to the posterior's region
        is off at prior draws; it is on here).

    Returns
    -------
    tuple of Point
    """
    import numpy as np

    return (*prior_points(model, seed, FINGERPRINT_POINTS), *(tuple(np.asarray(v) for v in draw) for draw in posterior))


def fingerprint(model: Any, seed: int, points: Sequence[Point]) -> Fingerprint:
    """mu, the likelihood and every prior and potential, at ``points`` and at treatments drawn from ``seed``.

    The treatment settings are everyone untreated, everyone treated and a random assignment
    (never the observed one); the likelihood is evaluated at a fixed reordering of the
    observed outcome's sorted values, so a build from the same values in another order gives
    the same numbers. A build that reads the treatment or the outcome unit by unit anywhere but
    through ``t`` and ``observed=`` does not.

    Parameters
    ----------
    model
        A model that keeps the contract.
    seed
        Drawn after the build (the model cannot know it while it builds).
    points
        Values of the free variables (:func:`probe_points`; the second build gets the first's).

    Returns
    -------
    Fingerprint
    """
    import numpy as np
    import pymc as pm
    import pytensor
    from pytensor.compile.mode import FAST_COMPILE
    from pytensor.graph.replace import graph_replace

    rng = np.random.default_rng(seed)
    t = model["t"]
    observed_t = np.asarray(t.get_value())
    n = observed_t.shape[0]
    (likelihood,) = model.observed_RVs
    y_values = np.asarray(model.rvs_to_values[likelihood].eval())
    y_probe = np.sort(y_values, axis=None)[rng.permutation(y_values.size)].reshape(y_values.shape)
    free = list(model.free_RVs)
    stand_ins = [rv.type() for rv in free]
    terms = [pm.logp(rv, stand_in).sum() for rv, stand_in in zip(free, stand_ins, strict=True)]
    terms += [potential.sum() for potential in model.potentials]
    term_names = [rv.name for rv in free] + [f"potential {p.name or i}" for i, p in enumerate(model.potentials)]
    t_in = t.type()  # replaced in the graph, as the harness's estimand does: never set through its storage
    outputs = graph_replace(
        [model["mu"], pm.logp(likelihood, y_probe), *terms],
        {**dict(zip(free, stand_ins, strict=True)), t: t_in},
        strict=False,
    )
    fn = pytensor.function([*stand_ins, t_in], outputs, mode=FAST_COMPILE, on_unused_input="ignore")
    units = np.sort(rng.choice(n, size=min(n, FINGERPRINT_UNITS), replace=False))
    assignments = {"t = 0": np.zeros_like(observed_t), "t = 1": np.ones_like(observed_t)}
    assignments["a random t"] = rng.integers(0, 2, size=observed_t.shape).astype(observed_t.dtype)
    labels: list[str] = []
    values: list[float] = []
    for j, point in enumerate(points, start=1):
        for setting, assignment in assignments.items():
            mu_value, loglik_value, *term_values = (np.asarray(v, dtype=float) for v in fn(*point, assignment))
            for what, per_unit in (("mu", mu_value), ("the likelihood", np.broadcast_to(loglik_value, (n,)))):
                labels.append(f"{what}, mean over units, point {j}, {setting}")
                values.append(float(np.mean(per_unit)))
                labels += [f"{what} of unit {k}, point {j}, {setting}" for k in units]
                values += [float(v) for v in per_unit[units]]
        labels += [f"the log-density of {name}, point {j}" for name in term_names]
        values += [float(v) for v in term_values]
    start = model.initial_point()  # where the sampler starts: a per-unit initval can hold a copy too
    for name, value in sorted(start.items()):
        flat = np.asarray(value, dtype=float).ravel()
        picked = units if flat.size == n else np.arange(min(flat.size, FINGERPRINT_UNITS))
        labels.append(f"the initial value of {name}, mean")
        values.append(float(np.mean(flat)) if flat.size else 0.0)
        labels += [f"the initial value of {name}[{k}]" for k in picked]
        values += [float(v) for v in flat[picked]]
    layout = tuple(f"{name}{tuple(np.shape(value))}" for name, value in sorted(start.items()))
    return Fingerprint(seed=seed, layout=layout, points=tuple(points), labels=tuple(labels), values=tuple(values))


def reshuffled(data: ModelData) -> ModelData:
    """The same data with treatment and outcome moved together to other units, in an order nobody can know.

    Every control stays where it is; every sum, mean, share or spread of ``t`` and ``y`` (the
    scalar summaries a model may use for its priors) is the same as the data's.

    Parameters
    ----------
    data
        What ``build_model`` received.

    Returns
    -------
    ModelData
    """
    import secrets

    import numpy as np

    order = np.random.default_rng(secrets.randbits(128)).permutation(data.n)
    return replace(data, t=np.asarray(data.t)[order], y=np.asarray(data.y)[order])


def fingerprint_mismatch(real: Fingerprint, again: Fingerprint) -> tuple[str, str] | None:
    """Where the build on reshuffled data disagrees with the build the harness sampled: (error, hint), or None.

    Parameters
    ----------
    real
        From the model child's build on the data.
    again
        From a second child's build on :func:`reshuffled` data, at the same seed.

    Returns
    -------
    tuple of (str, str) or None
    """
    import numpy as np

    hint = (
        "use the treatment only through the container t and the outcome only in observed= (and in scalar summaries "
        "such as data.y.mean() for priors): a copy of either, in any form, is what the harness refuses"
    )
    if real.layout != again.layout or real.labels != again.labels:
        return (
            "build_model gave other parameters when the treatment and outcome were reshuffled over the units "
            f"({', '.join(real.layout[:4])} against {', '.join(again.layout[:4])})",
            hint,
        )
    a, b = np.asarray(real.values), np.asarray(again.values)
    differ = ~np.isclose(a, b, rtol=FINGERPRINT_RTOL, atol=1e-9, equal_nan=True)
    if not differ.any():
        return None
    i = int(np.flatnonzero(differ)[0])
    return (
        "the model reads the observed treatment or outcome unit by unit outside t and observed=: built again with "
        f"both reshuffled over the units, {real.labels[i]} is {b[i]:.6g} instead of {a[i]:.6g}",
        hint,
    )
