"""Plot series for the design screen and the report: plain lists of numbers.

Screens draw them with plotext, the report with matplotlib; neither computes anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.design.results import BalanceResult, OverlapResult, TrimmingResult


@dataclass(frozen=True)
class LovePlotSeries:
    """Covariates sorted by |SMD| after weighting (largest first, ties by |SMD| before), with both SMDs."""

    names: list[str]
    before: list[float]
    after: list[float]
    pass_below: float
    fail_at: float


@dataclass(frozen=True)
class OverlapSeries:
    """Propensity histogram by arm: bin centres and counts, plus the overlap bounds."""

    centres: list[float]
    treated: list[int]
    control: list[int]
    bounds: tuple[float, float]
    width: float


@dataclass(frozen=True)
class TrimmingSeries:
    thresholds: list[float]
    estimates: list[float]
    lows: list[float]
    highs: list[float]
    n: list[int]
    labels: list[str]


def love_plot_series(balance: BalanceResult, top: int | None = None, absolute: bool = True) -> LovePlotSeries:
    """Series for a love plot: one row per covariate, worst balance after weighting first.

    The gate judges |SMD| after weighting, so that is the order; both the before and the
    after value of each covariate are in the series (ties go to the worse before).

    Parameters
    ----------
    balance
        The balance diagnostic.
    top
        Keep only the ``top`` most imbalanced covariates (all when None).
    absolute
        Plot |SMD| (the usual love plot) rather than signed differences.

    Returns
    -------
    LovePlotSeries
        Names, before and after values in that order, and the gate's pass and fail thresholds.
    """
    rows = sorted(balance.rows, key=lambda r: (-abs(r.after), -abs(r.before)))
    if top is not None:
        rows = rows[:top]
    f = abs if absolute else (lambda x: x)
    return LovePlotSeries(
        names=[r.name for r in rows],
        before=[float(f(r.before)) for r in rows],
        after=[float(f(r.after)) for r in rows],
        pass_below=balance.pass_below,
        fail_at=balance.fail_at,
    )


def overlap_series(overlap: OverlapResult) -> OverlapSeries:
    """Series for the propensity histogram, one bar series per arm.

    Parameters
    ----------
    overlap
        The overlap diagnostic.

    Returns
    -------
    OverlapSeries
        Bin centres, counts per arm, the overlap bounds and the bin width.
    """
    edges = overlap.bin_edges
    centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    return OverlapSeries(
        centres=centres,
        treated=list(overlap.counts_treated),
        control=list(overlap.counts_control),
        bounds=overlap.bounds,
        width=edges[1] - edges[0],
    )


def trimming_series(trimming: TrimmingResult) -> TrimmingSeries:
    """Series for the trimming-sensitivity curve: estimate and interval against the threshold.

    Parameters
    ----------
    trimming
        The trimming-sensitivity diagnostic.

    Returns
    -------
    TrimmingSeries
        Per point: threshold, estimate, interval bounds, units kept and the estimand's label.
    """
    pts = trimming.points
    return TrimmingSeries(
        thresholds=[p.threshold for p in pts],
        estimates=[p.effect for p in pts],
        lows=[p.ci_low for p in pts],
        highs=[p.ci_high for p in pts],
        n=[p.n for p in pts],
        labels=[p.estimand for p in pts],
    )
