"""Who an estimate is about, and which of them the other arm has no one like.

Every estimand the design loop reports is a weighted mean of unit effects: the ATE weighs every
unit alike, the ATT only the treated, the ATO each unit by e(1 − e) (:func:`target_weights`).
Where a run of units has no one like them in the other arm (:func:`without_counterpart`), their
missing outcome is the outcome model's extrapolation, which no weight corrects; the interval then
widens by an allowance for it (:func:`extrapolation_allowance`) and says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.design.results import PopulationShift
from engine.problem import Contract, Estimand

POPULATION_FILE = "population_weights.npy"
"""A design run's :func:`target_weights` per unit, in its artefacts folder (``artifacts/0003/``)."""
SHIFT_SHOWN = 0.1
"""A column whose mean moves by less than this many standard deviations between all units and the
estimand's population is not worth naming (the usual bound for a negligible standardised difference)."""
SHIFTS_SHOWN = 5
SUPPORT_FLOOR = 0.01
"""A calibrated propensity under this (or over 1 − it) leaves fewer than one unit in a hundred like
this one in the other arm: its missing outcome is the outcome model's extrapolation, which no
weight can correct."""
SUPPORT_EVIDENCE = 3.0
"""Expected units of the other arm in a run where (almost) none was seen, for the run to count as
unsupported: under a Poisson count, seeing none where three were expected has p ≈ 0.05."""


def target_weights(e: np.ndarray, t: np.ndarray, estimand: Estimand) -> np.ndarray:
    """How much each unit counts in the estimand: the population its effect is averaged over.

    Not the balancing weights (:func:`engine.design.diagnostics.estimand_weights`), which make the
    arms comparable; these say whose effect the number is. The estimate's true value on data with
    known unit effects τ is ``Σ w·τ / Σ w`` (the quality battery scores every estimand so, the
    overlap-weighted and trimmed ones included).

    Parameters
    ----------
    e
        Propensities as the analysis clipped them (:attr:`engine.design.estimate.NuisanceFit.e_clipped`).
    t
        Treatment, 0/1.
    estimand
        ATE: 1 for everyone; ATT: the treated (1) only; ATO: e(1 − e).

    Returns
    -------
    numpy.ndarray
        One non-negative weight per unit.
    """
    if estimand is Estimand.ATE:
        return np.ones(len(t))
    if estimand is Estimand.ATT:
        return np.asarray(t, dtype=float)
    return e * (1 - e)


def describe_population(frame: pd.DataFrame, contract: Contract, weights: np.ndarray) -> tuple[PopulationShift, ...]:
    """The columns in which the estimand's population differs most from all units.

    An overlap-weighted or trimmed estimate answers for a population the analysis defined, not for
    everyone the question asks about; before anyone generalises from it, they need to know who
    that population is (Li, Morgan and Zaslavsky 2018 describe it by its weighted covariate means).
    Only controls and pre-treatment columns are read.

    Parameters
    ----------
    frame
        The problem's data, one row per unit.
    contract
        Its contract (which columns may be read, which are categorical).
    weights
        :func:`target_weights` per unit, zero for units trimmed away.

    Returns
    -------
    tuple of PopulationShift
        At most :data:`SHIFTS_SHOWN`, largest shift first, each of at least :data:`SHIFT_SHOWN`
        standard deviations; for a categorical column, its level that moved most. Empty when
        every unit counts alike (an untrimmed ATE).
    """
    weights = np.asarray(weights, dtype=float)
    if weights.sum() <= 0 or np.ptp(weights) == 0:
        return ()
    shifts = []
    for name in contract.placebo_candidates:
        column = frame[name]
        if name in contract.categorical:
            dummies = pd.get_dummies(column.astype(str)).astype(float)
            everyone = dummies.mean().to_numpy()
            population = np.average(dummies.to_numpy(), axis=0, weights=weights)
            sd = np.sqrt(everyone * (1 - everyone))
            levels = [str(level) for level in dummies.columns]
        elif pd.api.types.is_numeric_dtype(column):
            values = column.to_numpy(dtype=float)[:, None]
            everyone, population, sd = (
                values.mean(axis=0),
                np.average(values, axis=0, weights=weights),
                values.std(axis=0),
            )
            # a 0/1 column reads as the share of its 1s, like a categorical's level
            levels = ["1" if set(np.unique(values)) <= {0.0, 1.0} else ""]
        else:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = np.where(sd > 0, (population - everyone) / np.where(sd > 0, sd, 1.0), 0.0)
        k = int(np.argmax(np.abs(shift)))
        if abs(shift[k]) >= SHIFT_SHOWN:
            # means to three significant digits of the column's sd: a standardised column's mean is 0, not 1e-9
            digits = max(0, 2 - int(np.floor(np.log10(sd[k]))))
            shifts.append(
                PopulationShift(
                    name,
                    levels[k],
                    round(float(everyone[k]), digits) + 0.0,
                    round(float(population[k]), digits) + 0.0,
                    float(shift[k]),
                )
            )
    return tuple(sorted(shifts, key=lambda s: -abs(s.shift_sd))[:SHIFTS_SHOWN])


def without_counterpart(e: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Units with no treated unit like them, and units with no control like them.

    Early-stopped boosting shrinks propensities towards the base rate, so units nobody in the
    other arm resembles still get e ≈ 0.02–0.1. Recalibrating e to the observed treatment rate
    (isotonic, monotone in e) gives such a run of units the treated share it actually has. The
    run below :data:`SUPPORT_FLOOR` counts as unsupported when the propensity model expected at
    least :data:`SUPPORT_EVIDENCE` treated units in it: seeing (almost) none is then evidence,
    not chance (the rule of three); a handful of extreme units at either end is not. The same
    holds above ``1 − SUPPORT_FLOOR`` with controls.

    Parameters
    ----------
    e
        The raw out-of-fold propensity.
    t
        Treatment, 0/1.

    Returns
    -------
    tuple of numpy.ndarray
        Two boolean masks over the units: no treated unit like them, no control like them.
    """
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    calibrated = iso.fit(e, t).predict(e)
    low, high = calibrated < SUPPORT_FLOOR, calibrated > 1.0 - SUPPORT_FLOOR
    if e[low].sum() < SUPPORT_EVIDENCE:
        low = np.zeros_like(low)
    if (1.0 - e[high]).sum() < SUPPORT_EVIDENCE:
        high = np.zeros_like(high)
    return low, high


def extrapolation_allowance(
    cate: np.ndarray,
    e: np.ndarray,
    t: np.ndarray,
    without: tuple[np.ndarray, np.ndarray],
    estimand: Estimand,
) -> tuple[float, float]:
    """How much of the estimand rests on units the other arm has no one like, and the interval's allowance.

    A unit with no treated unit like it (:func:`without_counterpart`) has a treated outcome that
    is the outcome model's guess, and no weight corrects the guess: the ATE needs it, the ATT does
    not. A unit with no control like it has a control outcome only the model knows, which both
    need. The identified part of the estimand is the rest. For the unsupported share ``s`` of the
    population we allow the guessed effect to be off by as much as effects vary between the
    supported units, ``sd``, and widen each side of the sampling interval by ``s·sd``: the union
    of the 95 % intervals over that range (a sensitivity bound in the manner of Manski's partial
    identification, not a sampling error). Overlap weights (ATO) count each unit by e(1 − e), so
    unsupported units, and their allowance, weigh little there.

    Parameters
    ----------
    cate
        The outcome model's unit effects, m1 − m0, over the analysed population (after trimming).
    e
        Propensities as the analysis clipped them, over the same units.
    t
        Treatment, 0/1, over the same units.
    without
        The masks of :func:`without_counterpart` over the same units: no treated unit like them,
        no control like them.
    estimand
        ATE, ATT or ATO: who is averaged over, and which missing outcomes the estimate needs.

    Returns
    -------
    tuple of (float, float)
        The unsupported share of the (weighted) population, and the allowance ``s·sd`` in outcome
        units; ``(0.0, 0.0)`` when every unit has someone like it in the other arm.
    """
    no_treated_like, no_control_like = without
    weight = target_weights(e, t, estimand)
    unsupported = no_control_like if estimand is Estimand.ATT else no_control_like | no_treated_like
    share = float((weight * unsupported).sum() / weight.sum())
    supported = weight * ~unsupported
    if share == 0.0 or supported.sum() == 0.0:
        return share, 0.0
    mean = np.average(cate, weights=supported)
    sd = float(np.sqrt(np.average((cate - mean) ** 2, weights=supported)))
    return share, share * sd
