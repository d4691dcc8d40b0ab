"""Facts about the pre-treatment columns that the critic and the design moves reason from.

Only allowed controls and pre-treatment columns are examined; forbidden columns are
never read here (their names and reasons come from the contract).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from engine.design.results import ColumnFact, DataFacts
from engine.problem import Contract

LAGGED_CORR_MIN = 0.5  # a pre-treatment column this correlated with the outcome may be its earlier value
LAGGED_NAME_CORR_MIN = 0.1  # ... or less correlated, if it is named like the outcome (re74 for re78)
THRESHOLD_JUMP_MIN = 0.6  # treated share jumping this much at one cutoff suggests a rule-based assignment
INSTRUMENT_WORDS = ("distance", "lottery", "encourag", "offer", "random", "instrument", "eligib", "draft", "quota")


def _stem(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def _levels(col: pd.Series, categorical: bool) -> np.ndarray:
    """The column as a 2-D numeric array: one-hot levels for a categorical, else itself."""
    if categorical:
        return pd.get_dummies(col.astype("category")).to_numpy(dtype=float)
    return col.to_numpy(dtype=float)[:, None]


def _abs_smd(x: np.ndarray, t: np.ndarray, weights: np.ndarray | None = None, keep: np.ndarray | None = None) -> float:
    t = t.astype(bool)
    pooled = np.sqrt((x[t].var(axis=0) + x[~t].var(axis=0)) / 2)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, dtype=float)
    if keep is not None:
        x, t, w = x[keep], t[keep], w[keep]
    if not t.any() or t.all():
        return float("nan")
    diff = np.abs(np.average(x[t], axis=0, weights=w[t]) - np.average(x[~t], axis=0, weights=w[~t]))
    with np.errstate(divide="ignore", invalid="ignore"):
        smd = np.where(pooled > 0, diff / np.where(pooled > 0, pooled, 1.0), 0.0)
    return float(np.max(smd)) if smd.size else 0.0


def _abs_corr(x: np.ndarray, y: np.ndarray) -> float:
    best = 0.0
    for j in range(x.shape[1]):
        col = x[:, j]
        if col.std() > 0 and y.std() > 0:
            best = max(best, abs(float(np.corrcoef(col, y)[0, 1])))
    return best


def column_facts(
    frame: pd.DataFrame,
    contract: Contract,
    covariates: tuple[str, ...],
    *,
    weights: np.ndarray | None = None,
    keep: np.ndarray | None = None,
) -> tuple[ColumnFact, ...]:
    """Association of each placebo candidate (controls and pre-treatment columns) with t and y.

    Parameters
    ----------
    frame, contract
        The data and its contract.
    covariates
        The analysis' adjustment set (to mark which columns are in it).
    weights, keep
        The analysis' balancing weights over its analysed population ``keep``: with them,
        ``smd_weighted`` says whether the adjustment balances a column it does not include
        (if it does, the column's raw imbalance is explained by the covariates).

    Returns
    -------
    tuple of ColumnFact
        One per numeric or categorical candidate (other columns are skipped): its role, whether
        it is adjusted for, its largest |SMD| between the arms, its largest |correlation| with
        the outcome and, with ``weights``, its largest |SMD| after weighting (NaN without).
    """
    t = frame[contract.treatment].to_numpy(dtype=float)
    y = frame[contract.outcome].to_numpy(dtype=float)
    facts = []
    for name in contract.placebo_candidates:
        categorical = name in contract.categorical
        numeric = not categorical and pd.api.types.is_numeric_dtype(frame[name])
        if not categorical and not numeric:
            continue
        x = _levels(frame[name], categorical)
        facts.append(
            ColumnFact(
                name=name,
                role="control" if name in contract.controls else "pretreatment",
                in_covariates=name in covariates,
                smd_treatment=_abs_smd(x, t),
                corr_outcome=_abs_corr(x, y),
                numeric=numeric,
                smd_weighted=_abs_smd(x, t, weights, keep) if weights is not None else float("nan"),
            )
        )
    return tuple(facts)


def data_facts(frame: pd.DataFrame, contract: Contract, columns: tuple[ColumnFact, ...]) -> DataFacts:
    """Features of the data that make alternative designs possible.

    Parameters
    ----------
    frame
        The data.
    contract
        Its contract (treatment and outcome names).
    columns
        Facts about the candidate columns, from :func:`column_facts`.

    Returns
    -------
    DataFacts
        Columns that may be an earlier measurement of the outcome, numeric columns at a cutoff
        of which the treated share jumps by at least :data:`THRESHOLD_JUMP_MIN` (with the cutoff
        and the jump), and columns named like an instrument.
    """
    outcome_stem = _stem(contract.outcome)[:2]
    # An earlier measurement of the outcome: named like it and related to it, or a pre-treatment
    # (non-control) column strongly correlated with it.
    lagged = tuple(
        c.name
        for c in columns
        if c.numeric
        and (
            (
                len(outcome_stem) == 2
                and _stem(c.name).startswith(outcome_stem)
                and c.corr_outcome >= LAGGED_NAME_CORR_MIN
            )
            or (c.role == "pretreatment" and c.corr_outcome >= LAGGED_CORR_MIN)
        )
    )
    t = frame[contract.treatment].to_numpy(dtype=float)
    thresholds = []
    for c in columns:
        if not c.numeric:
            continue
        x = frame[c.name].to_numpy(dtype=float)
        if len(np.unique(x)) < 10:
            continue
        best = (0.0, 0.0)
        for cut in np.unique(np.quantile(x, np.linspace(0.05, 0.95, 19))):
            below, above = t[x < cut], t[x >= cut]
            if len(below) < 20 or len(above) < 20:
                continue
            jump = abs(above.mean() - below.mean())
            if jump > best[1]:
                best = (float(cut), float(jump))
        if best[1] >= THRESHOLD_JUMP_MIN:
            thresholds.append((c.name, best[0], best[1]))
    instruments = tuple(c.name for c in columns if any(word in c.name.lower() for word in INSTRUMENT_WORDS))
    return DataFacts(lagged_outcomes=lagged, thresholds=tuple(thresholds), instruments=instruments)
