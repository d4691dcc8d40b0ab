"""The second build: what a model computes at points nobody chose, and the same model built on reshuffled data.

The contract's graph walks look for a copy of the treatment or outcome where one usually sits
(a length-n constant, a data container); a copy can hide in any other encoding, and numbers
the author typed in can stand for units by their row. So the model child takes a
:class:`Fingerprint` after sampling, at a :class:`Probe` drawn then; a third child builds
``model.py`` again from :func:`reshuffled` data, whose rows are in another order and whose
treatment and outcome are moved together to other units again, each order one only the
workbench knows, and must compute the same numbers for the same units. A build that uses ``t``
through the container, ``y`` in ``observed=`` and in scalar summaries, and the controls row by
row, does; one that reads either unit by unit anywhere else, or recognises a unit by its row
number, cannot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from engine.intervention import Point, prior_points, substituted
from engine.problem import ModelData

FINGERPRINT_POINTS = 2
"""Prior draws, from a seed made after the build, at which both builds must agree (besides posterior draws)."""
FINGERPRINT_RTOL = 1e-7
"""Agreement asked of the two builds (a reshuffled outcome's mean and sd differ by rounding only)."""


@dataclass(frozen=True)
class Probe:
    """Where both builds are evaluated: values of the free variables, a random treatment, the outcome reordered.

    ``points`` are prior and posterior draws in ``model.free_RVs`` order; ``treatment`` is a
    random assignment (never the observed one) and ``outcome`` the observed values in another
    order, at which the likelihood is evaluated. ``draws`` holds every posterior draw (or as
    many as :data:`DIGEST_VALUES` allows), one array per free variable with the draws first, at
    which the builds must agree on mu under ``treatment`` summed with the secret ``weights``:
    a term switched on in a few draws is on in some of these. The second build gets them :meth:`moved` to its
    row order, and never the seed they came from: it could not undo its rows' order with them.
    """

    points: tuple[Point, ...]
    treatment: np.ndarray
    outcome: np.ndarray
    draws: tuple[np.ndarray, ...] = ()
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def moved(self, rows: np.ndarray) -> Probe:
        """The same probe for data whose row ``j`` is the original row ``rows[j]``.

        Parameters
        ----------
        rows
            The reshuffle's row order (:attr:`Reshuffle.rows`).

        Returns
        -------
        Probe
        """
        return Probe(
            points=tuple(tuple(unit_rows(value, rows) for value in point) for point in self.points),
            treatment=unit_rows(self.treatment, rows),
            outcome=unit_rows(self.outcome, rows),
            draws=tuple(unit_rows(values, rows, first=1) for values in self.draws),
            weights=unit_rows(self.weights, rows),
        )


@dataclass(frozen=True)
class Fingerprint:
    """What a model computes at a :class:`Probe`: a second build must compute the same for the same units.

    ``arrays[i]`` is described by ``labels[i]``; an axis as long as the data is a unit axis.
    ``layout`` names the free variables and their shapes.
    """

    layout: tuple[str, ...]
    probe: Probe
    labels: tuple[str, ...]
    arrays: tuple[np.ndarray, ...]
    digest: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class Reshuffle:
    """Data in another row order with treatment and outcome moved to other units again: the second build's input.

    Row ``j`` of ``data`` holds the controls of original row ``rows[j]``.
    """

    data: ModelData
    rows: np.ndarray


def unit_rows(value: Any, rows: np.ndarray, first: int = 0) -> np.ndarray:
    """``value`` with every axis as long as the data (from axis ``first`` on) taken in the order ``rows``.

    Parameters
    ----------
    value
        A parameter value, a per-unit series or a scalar.
    rows
        A permutation of the units.
    first
        Axes before it are left alone (draws stacked in front).

    Returns
    -------
    numpy.ndarray
    """
    out = np.asarray(value)
    for axis, size in enumerate(out.shape):
        if axis >= first and size == rows.shape[0]:
            out = np.take(out, rows, axis=axis)
    return out


def draw_probe(model: Any, seed: int, posterior: Sequence[Point] = (), draws: tuple[np.ndarray, ...] = ()) -> Probe:
    """Prior draws from ``seed``, the given posterior draws, and a random treatment and outcome order.

    Parameters
    ----------
    model
        A model that keeps the contract.
    seed
        Drawn after the build.
    posterior
        Draws the sampler made, picked after sampling (a term gated to the posterior's region
        is off at prior draws; it is on here).
    draws
        Every posterior draw of each free variable, draws first (:func:`digest_draws`).

    Returns
    -------
    Probe
    """
    rng = np.random.default_rng([seed, 1])
    observed_t = np.asarray(model["t"].get_value())
    (likelihood,) = model.observed_RVs
    y_values = np.asarray(model.rvs_to_values[likelihood].eval())
    return Probe(
        points=(*prior_points(model, seed, FINGERPRINT_POINTS), *(tuple(np.asarray(v) for v in p) for p in posterior)),
        treatment=rng.integers(0, 2, size=observed_t.shape).astype(observed_t.dtype),
        outcome=np.sort(y_values, axis=None)[rng.permutation(y_values.size)].reshape(y_values.shape),
        draws=draws,
        weights=np.asarray(rng.standard_normal(observed_t.shape[0])),
    )


def fingerprint(model: Any, probe: Probe) -> Fingerprint:
    """mu and the likelihood per unit, and every prior and potential, at ``probe``'s points and treatments.

    The treatment settings are everyone untreated, everyone treated and the probe's random
    assignment; the likelihood is evaluated at the probe's order of the observed values. The
    initial point (where the sampler starts; a per-unit ``initval`` can hold a copy too) is
    part of it.

    Parameters
    ----------
    model
        A model that keeps the contract.
    probe
        From :func:`draw_probe` on the model child; :meth:`Probe.moved` on the second build.

    Returns
    -------
    Fingerprint
    """
    import pymc as pm
    import pytensor
    from pytensor.compile.mode import FAST_COMPILE

    t = model["t"]
    observed_t = np.asarray(t.get_value())
    n = observed_t.shape[0]
    (likelihood,) = model.observed_RVs
    free = list(model.free_RVs)
    stand_ins = [rv.type() for rv in free]
    terms = [pm.logp(rv, stand_in).sum() for rv, stand_in in zip(free, stand_ins, strict=True)]
    terms += [potential.sum() for potential in model.potentials]
    term_names = [rv.name for rv in free] + [f"potential {p.name or i}" for i, p in enumerate(model.potentials)]
    t_in = t.type()  # replaced in the graph, as the harness's estimand does: never set through its storage
    outputs = substituted(
        [model["mu"], pm.logp(likelihood, probe.outcome), *terms], {**dict(zip(free, stand_ins, strict=True)), t: t_in}
    )
    fn = pytensor.function([*stand_ins, t_in], outputs, mode=FAST_COMPILE, on_unused_input="ignore")
    assignments = {"t = 0": np.zeros_like(observed_t), "t = 1": np.ones_like(observed_t), "a random t": probe.treatment}
    labels: list[str] = []
    arrays: list[np.ndarray] = []
    for j, point in enumerate(probe.points, start=1):
        for setting, assignment in assignments.items():
            mu_value, loglik_value, *term_values = (np.asarray(v, dtype=float) for v in fn(*point, assignment))
            labels += [f"mu, point {j}, {setting}", f"the likelihood, point {j}, {setting}"]
            arrays += [mu_value, np.broadcast_to(loglik_value, (n,))]
        labels += [f"the log-density of {name}, point {j}" for name in term_names]
        arrays += term_values
    start = model.initial_point()
    for name, value in sorted(start.items()):
        labels.append(f"the initial value of {name}")
        arrays.append(np.asarray(value, dtype=float))
    layout = tuple(f"{name}{tuple(np.shape(value))}" for name, value in sorted(start.items()))
    digest = _digest(model, probe)
    return Fingerprint(layout=layout, probe=probe, labels=tuple(labels), arrays=tuple(arrays), digest=digest)


DIGEST_VALUES = 4_000_000
"""Most numbers of posterior draws the second build gets (32 MB), and most draws × units it evaluates mu at: every
draw of IHDP's; a random subset of LaLonde's (250 of 4,000), or where per-unit parameters make each draw large."""


def digest_draws(posterior: Any, free: Sequence[Any], n: int = 1) -> tuple[np.ndarray, ...]:
    """Every draw of each free variable (draws first), or a random subset of at most :data:`DIGEST_VALUES` numbers.

    Parameters
    ----------
    posterior
        The sampler's posterior (``chain`` and ``draw`` dimensions).
    free
        The model's free variables.
    n
        The units: each draw costs an evaluation of mu over all of them.

    Returns
    -------
    tuple of numpy.ndarray
    """
    import secrets

    stacked = [
        np.asarray(posterior[rv.name].transpose("chain", "draw", ...).values).reshape(-1, *posterior[rv.name].shape[2:])
        for rv in free
    ]
    total = stacked[0].shape[0] if stacked else 0
    per_draw = max(1, sum(int(np.prod(a.shape[1:])) for a in stacked))
    keep = min(total, max(64, DIGEST_VALUES // max(per_draw, n)))
    picked = np.sort(np.random.default_rng(secrets.randbits(64)).choice(total, size=keep, replace=False))
    return tuple(a[picked] for a in stacked)


def _digest(model: Any, probe: Probe) -> np.ndarray:
    """mu under the probe's random treatment, summed over units with the probe's weights, at each of its draws."""
    if not probe.draws:
        return np.zeros(0)
    import xarray as xr
    from pytensor.compile.mode import FAST_COMPILE

    from engine.effects import mu_at
    from engine.loglik import posterior_function

    names = [rv.name for rv in model.free_RVs]
    posterior = xr.Dataset(
        {
            name: (("chain", "draw", *(f"{name}_dim_{i}" for i in range(values.ndim - 1))), values[None])
            for name, values in zip(names, probe.draws, strict=True)
        }
    )
    (values,) = posterior_function(
        model, lambda m: [(mu_at(m["mu"], m["t"], probe.treatment) * probe.weights).sum()], mode=FAST_COMPILE
    )(posterior)
    return np.asarray(values, dtype=float).reshape(-1)


def reshuffled(data: ModelData) -> Reshuffle:
    """The data's rows in another order, with treatment and outcome moved together to other units again.

    Each order comes from randomness nobody else can reproduce. Every control keeps its values
    row by row; every sum, mean, share or spread of the controls, ``t`` and ``y`` (the scalar
    summaries a model may use for its priors) is the same as the data's; which treatment and
    outcome sit with which controls is not.

    Parameters
    ----------
    data
        What ``build_model`` received.

    Returns
    -------
    Reshuffle
    """
    import secrets

    rng = np.random.default_rng(secrets.randbits(128))
    rows, pairs = rng.permutation(data.n), rng.permutation(data.n)
    again = replace(
        data,
        X=data.X.iloc[rows].reset_index(drop=True),
        t=np.asarray(data.t)[pairs],
        y=np.asarray(data.y)[pairs],
    )
    return Reshuffle(data=again, rows=rows)


def fingerprint_mismatch(real: Fingerprint, again: Fingerprint, rows: np.ndarray) -> tuple[str, str] | None:
    """Where the build on reshuffled data disagrees with the build the harness sampled: (error, hint), or None.

    Each of ``real``'s arrays is taken in the reshuffle's row order and compared with
    ``again``'s, so unit by unit the same unit's numbers are compared.

    Parameters
    ----------
    real
        From the model child's build on the data.
    again
        From a second child's build on :func:`reshuffled` data, at ``real.probe.moved(rows)``.
    rows
        The reshuffle's row order.

    Returns
    -------
    tuple of (str, str) or None
    """
    hint = (
        "use the treatment only through the container t, the outcome only in observed= (and in scalar summaries "
        "such as data.y.mean() for priors), and the controls row by row from data.X: a copy of the treatment or "
        "outcome, or numbers tied to row positions, in any form, is what the harness refuses"
    )
    shapes = [np.shape(a) for a in real.arrays], [np.shape(a) for a in again.arrays]
    if real.layout != again.layout or real.labels != again.labels or shapes[0] != shapes[1]:
        return (
            "build_model gave other parameters when the data were reshuffled over the units "
            f"({', '.join(real.layout[:4])} against {', '.join(again.layout[:4])})",
            hint,
        )
    digests = np.asarray(real.digest, dtype=float), np.asarray(again.digest, dtype=float)
    if digests[0].shape != digests[1].shape:
        return ("the builds sent digests of other lengths", hint)
    broken = ~np.isfinite(digests[0])
    if broken.any():  # NaN on both sides would compare equal: a term NaN under any other treatment hid there
        return (
            f"mu is not finite under a random treatment at {int(broken.sum())} of {broken.size} posterior draws, "
            "though the effect needs it finite under every treatment",
            "keep mu finite whatever the treatment: no NaN or inf for assignments other than the observed one",
        )
    scale = float(np.max(np.abs(digests[0]), initial=1.0))
    off = ~np.isclose(digests[0], digests[1], rtol=FINGERPRINT_RTOL, atol=FINGERPRINT_RTOL * scale, equal_nan=True)
    if off.any():
        i = int(np.flatnonzero(off)[0])
        return (
            "the model reads the observed treatment or outcome unit by unit outside t and observed=, at some "
            f"draws only: built again on the data reshuffled over the units, mu at posterior draw {i} of "
            f"{off.size} (under a random treatment, summed with secret weights) is {digests[1][i]:.6g} instead of "
            f"{digests[0][i]:.6g}, at {float(off.mean()):.1%} of the draws",
            hint,
        )
    for label, mine, sent in zip(real.labels, real.arrays, again.arrays, strict=True):
        try:  # both came from a child that ran model.py: numbers, or a breach
            expected, theirs = unit_rows(np.asarray(mine, dtype=float), rows), np.asarray(sent, dtype=float)
        except (TypeError, ValueError):
            return (f"the builds sent {label} as something other than numbers", hint)
        differ = ~np.isclose(expected, theirs, rtol=FINGERPRINT_RTOL, atol=1e-9, equal_nan=True)
        if not differ.any():
            continue
        where = np.unravel_index(int(np.flatnonzero(differ)[0]), differ.shape)
        unit = f" of unit {int(rows[where[0]])}" if expected.ndim and expected.shape[0] == rows.shape[0] else ""
        return (
            "the model reads the observed treatment or outcome unit by unit outside t and observed=, or ties numbers "
            f"to row positions: built again on the data reshuffled over the units, {label}{unit} is "
            f"{float(theirs[where]):.6g} instead of {float(expected[where]):.6g}",
            hint,
        )
    return None
