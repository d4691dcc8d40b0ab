"""The pooled population of a partitioned batch: propensity and trimming decided once, for every partition.

Trimming inside each partition would drop different kinds of unit in each, and the
partitions' estimates would no longer be comparable; so the propensity is fitted once on the
pooled data (with the analysis' own learner choice, folds and seed), the units outside the
trimming bounds are found once, and every partition leaves those same units out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.batch.plan import Population
from engine.problem import Contract


def pooled_propensity(frame: pd.DataFrame, contract: Contract, source: str) -> tuple[np.ndarray, str]:
    """Out-of-fold propensities on the pooled data, with the learner the analysis would use.

    Parameters
    ----------
    frame
        The problem's data (every unit).
    contract
        The causal contract.
    source
        The analysis spec (its covariates, propensity learner, folds and seed).

    Returns
    -------
    tuple of (numpy.ndarray, str)
        One propensity per row, and the learner's name (``auto`` resolved).
    """
    from sklearn.model_selection import cross_val_predict

    from engine.design.estimate import folds_for, prepare, propensity_model, resolve_propensity
    from engine.design.spec import parse_spec

    spec = parse_spec(source, contract)
    data = prepare(frame, contract, spec.resolved_covariates(contract))
    resolved, _ = resolve_propensity(data, spec)
    folds = folds_for(data.t, resolved.folds, resolved.seed)
    model = propensity_model(resolved.propensity_learner, resolved.seed)
    e = cross_val_predict(model, data.W, data.t, cv=folds, method="predict_proba")[:, 1]
    return e, resolved.propensity_learner.value


def decide_population(frame: pd.DataFrame, contract: Contract, source: str, trim: tuple[float, float]) -> Population:
    """Which units every partition analyses under ``trim``.

    Parameters
    ----------
    frame
        The problem's data (every unit, in file order).
    contract
        The causal contract.
    source
        The analysis spec whose propensity model decides (any spec: a model batch uses the
        session's analysis spec for this).
    trim
        Keep units whose pooled propensity lies in [low, high].

    Returns
    -------
    Population
        With the excluded row positions; no fit at all when ``trim`` is (0, 1).
    """
    if trim[0] <= 0.0 and trim[1] >= 1.0:
        return Population(trim, "", (), len(frame))
    e, learner = pooled_propensity(frame, contract, source)
    excluded = np.flatnonzero((e < trim[0]) | (e > trim[1]))
    return Population(trim, learner, tuple(int(i) for i in excluded), len(frame))
