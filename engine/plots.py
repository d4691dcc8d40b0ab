"""Plot series: pure functions from iteration records and arrays to what a plot draws.

The TUI draws these with plotext and the report with matplotlib; neither decides what a
point means. Nothing here imports a plotting library, and nothing here reads files: the
caller hands in records and arrays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.iteration import IterationRecord
from engine.records import ParamDiagnostic, Verdict, VerdictKind

PARETO_K_GOOD = 0.5
"""k at or below this: the PSIS estimate is reliable."""
PARETO_K_BAD = 0.7
"""k above this: the importance sampling estimate for that observation is unreliable."""
PARETO_K_VERY_BAD = 1.0
"""k above this: the variance of the importance weights is infinite."""


# --------------------------------------------------------------------------- ELPD trajectory


@dataclass(frozen=True)
class ElpdTrajectory:
    """ELPD of every sampled iteration, with ±``se_multiple`` SE bars and the kept line.

    ``best`` is the running best ELPD after each iteration (the kept line as a step curve).
    """

    numbers: tuple[int, ...]
    elpd: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    kept: tuple[bool, ...]
    best: tuple[float, ...]
    se_multiple: float = 2.0

    @property
    def empty(self) -> bool:
        return not self.numbers


def elpd_trajectory(records: Iterable[IterationRecord], se_multiple: float = 2.0) -> ElpdTrajectory:
    """ELPD across iterations, for the trajectory plot.

    Parameters
    ----------
    records
        Iterations in any order; those without an ELPD (rejected, skipped, crashed,
        failed before LOO) are left out.
    se_multiple
        Half-width of the bars in standard errors (the keep rule's multiple).

    Returns
    -------
    ElpdTrajectory

    Examples
    --------
    >>> elpd_trajectory([]).empty
    True
    """
    rows = []
    for record in sorted(records, key=lambda r: r.number):
        verdict = record.verdict
        if verdict is None:
            continue
        metrics = verdict.metrics
        if metrics.elpd is None:
            continue
        se = metrics.elpd_se or 0.0
        rows.append((record.number, metrics.elpd, se, verdict.kind is VerdictKind.KEPT))
    best: list[float] = []
    current: float | None = None
    for _number, elpd, _se, kept in rows:
        if kept:
            current = elpd
        best.append(current if current is not None else float("nan"))
    return ElpdTrajectory(
        numbers=tuple(r[0] for r in rows),
        elpd=tuple(r[1] for r in rows),
        lower=tuple(r[1] - se_multiple * r[2] for r in rows),
        upper=tuple(r[1] + se_multiple * r[2] for r in rows),
        kept=tuple(r[3] for r in rows),
        best=tuple(best),
        se_multiple=se_multiple,
    )


# --------------------------------------------------------------------------- effect forest


@dataclass(frozen=True)
class ForestRow:
    """One iteration's effect: posterior mean and HDI."""

    number: int
    label: str
    estimand: str
    mean: float
    low: float
    high: float
    kept: bool


def effect_forest(records: Iterable[IterationRecord], kept_only: bool = True) -> tuple[ForestRow, ...]:
    """Effect estimates across iterations, oldest first, for the forest plot.

    Parameters
    ----------
    records
        Iterations in any order; those without an effect are left out.
    kept_only
        Only the kept line (the models that were, in turn, the best).

    Returns
    -------
    tuple of ForestRow
    """
    rows = []
    for record in sorted(records, key=lambda r: r.number):
        verdict = record.verdict
        effect = verdict.metrics.effect if verdict else None
        if verdict is None or effect is None:
            continue
        kept = verdict.kind is VerdictKind.KEPT
        if kept_only and not kept:
            continue
        rows.append(
            ForestRow(
                record.number, f"#{record.number}", effect.estimand, effect.mean, effect.hdi_low, effect.hdi_high, kept
            )
        )
    return tuple(rows)


# --------------------------------------------------------------------------- per-draw effect


@dataclass(frozen=True)
class TraceSeries:
    """Draws of one scalar per chain, in sampling order (optionally thinned)."""

    x: tuple[tuple[int, ...], ...]
    y: tuple[tuple[float, ...], ...]

    @property
    def chains(self) -> int:
        return len(self.y)


def trace_series(draws: Any, max_points: int = 400) -> TraceSeries:
    """Trace of a scalar quantity per chain, thinned evenly to at most ``max_points``.

    Parameters
    ----------
    draws
        Array of shape ``(chains, draws)``; a 1-D array is one chain.
    max_points
        Terminal plots have a few hundred columns at most; thinning keeps them fast.

    Returns
    -------
    TraceSeries
    """
    array = _chains_by_draws(draws)
    step = max(1, int(np.ceil(array.shape[1] / max_points)))
    index = np.arange(0, array.shape[1], step)
    return TraceSeries(
        x=tuple(tuple(int(i) for i in index) for _ in range(array.shape[0])),
        y=tuple(tuple(float(v) for v in chain[index]) for chain in array),
    )


@dataclass(frozen=True)
class RankSeries:
    """Rank histogram per chain: counts of pooled-rank bins, and the uniform expectation.

    Well-mixed chains give flat histograms near ``expected``; a chain stuck in one region
    piles its ranks at one end.
    """

    centers: tuple[float, ...]
    counts: tuple[tuple[int, ...], ...]
    expected: float


def rank_series(draws: Any, bins: int = 20) -> RankSeries:
    """Rank plot data (Vehtari et al. 2021): pool all draws, rank them, histogram per chain.

    Parameters
    ----------
    draws
        Array of shape ``(chains, draws)``.
    bins
        Number of rank bins.

    Returns
    -------
    RankSeries

    Examples
    --------
    >>> r = rank_series(np.arange(8.0).reshape(2, 4), bins=2)
    >>> r.counts
    ((4, 0), (0, 4))
    """
    array = _chains_by_draws(draws)
    ranks = np.argsort(np.argsort(array.ravel(), kind="stable"), kind="stable").reshape(array.shape)
    edges = np.linspace(0, array.size, bins + 1)
    counts = tuple(tuple(int(c) for c in np.histogram(chain_ranks, bins=edges)[0]) for chain_ranks in ranks)
    centers = tuple(float(c) for c in (edges[:-1] + edges[1:]) / 2)
    return RankSeries(centers=centers, counts=counts, expected=array.shape[1] / bins)


def _chains_by_draws(draws: Any) -> np.ndarray:
    array = np.asarray(draws, dtype=float)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"expected draws shaped (chains, draws), got {array.shape}")
    return array


# --------------------------------------------------------------------------- Pareto k


@dataclass(frozen=True)
class ParetoKCounts:
    """Observations by Pareto-k band (ArviZ's classic bands)."""

    good: int  # k <= 0.5
    ok: int  # 0.5 < k <= 0.7
    bad: int  # 0.7 < k <= 1
    very_bad: int  # k > 1

    @property
    def total(self) -> int:
        return self.good + self.ok + self.bad + self.very_bad


@dataclass(frozen=True)
class ParetoKSeries:
    """Pareto k by observation index, with the band thresholds to draw as lines."""

    index: tuple[int, ...]
    k: tuple[float, ...]
    thresholds: tuple[float, ...] = (PARETO_K_BAD, PARETO_K_VERY_BAD)


def pareto_k_counts(k: Any) -> ParetoKCounts:
    """Count observations per Pareto-k band.

    Parameters
    ----------
    k
        Pareto k values (any array-like); NaN and infinite values are not counted.

    Returns
    -------
    ParetoKCounts
        ``good`` k ≤ 0.5, ``ok`` up to 0.7, ``bad`` up to 1.0, ``very_bad`` above.

    Examples
    --------
    >>> pareto_k_counts([0.1, 0.6, 0.8, 1.2, 0.2])
    ParetoKCounts(good=2, ok=1, bad=1, very_bad=1)
    """
    values = np.asarray(k, dtype=float)
    values = values[np.isfinite(values)]
    return ParetoKCounts(
        good=int((values <= PARETO_K_GOOD).sum()),
        ok=int(((values > PARETO_K_GOOD) & (values <= PARETO_K_BAD)).sum()),
        bad=int(((values > PARETO_K_BAD) & (values <= PARETO_K_VERY_BAD)).sum()),
        very_bad=int((values > PARETO_K_VERY_BAD).sum()),
    )


def pareto_k_series(k: Any) -> ParetoKSeries:
    """Pareto k by observation, for a scatter plot with the 0.7 and 1.0 lines.

    Parameters
    ----------
    k
        Pareto k values, one per observation (flattened).

    Returns
    -------
    ParetoKSeries
    """
    values = np.asarray(k, dtype=float).ravel()
    return ParetoKSeries(index=tuple(range(len(values))), k=tuple(float(v) for v in values))


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class ConvergenceRow:
    """One parameter's convergence diagnostics; ``failed`` names the gates it fails."""

    parameter: str
    rhat: float
    ess_bulk: float
    ess_tail: float
    failed: tuple[str, ...] = ()


def convergence_rows(
    table: Iterable[ParamDiagnostic], rhat_max: float = 1.01, ess_min: float = 400.0
) -> tuple[ConvergenceRow, ...]:
    """Convergence diagnostics per parameter, worst first.

    Parameters
    ----------
    table
        The record's :class:`~engine.records.ParamDiagnostic` rows.
    rhat_max, ess_min
        The gates, to mark the rows that fail them.

    Returns
    -------
    tuple of ConvergenceRow
        Rows that fail a gate first, then by R-hat from highest to lowest, ties broken by
        the lower ESS.
    """
    rows = []
    for diag in table:
        rhat, bulk, tail = _num(diag.rhat), _num(diag.ess_bulk), _num(diag.ess_tail)
        failed = tuple(
            gate
            for gate, bad in (("rhat", rhat > rhat_max), ("ess_bulk", bulk < ess_min), ("ess_tail", tail < ess_min))
            if bad
        )
        rows.append(ConvergenceRow(diag.name, rhat, bulk, tail, failed))

    def badness(row: ConvergenceRow) -> tuple[bool, float, float, str]:
        """Rows that fail a gate first; then the highest R-hat; then the lowest ESS (what the title says)."""
        rhat = row.rhat if np.isfinite(row.rhat) else np.inf
        ess = min(row.ess_bulk, row.ess_tail)
        return (not row.failed, -rhat, ess if np.isfinite(ess) else -np.inf, row.parameter)

    return tuple(sorted(rows, key=badness))


def _num(value: Any) -> float:
    try:
        return float(value) if value is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def deciding_rule(verdict: Verdict, se_multiple: float = 2.0) -> str:
    """The one line that says what decided a verdict: a failed gate, the keep rule, a crash.

    Parameters
    ----------
    verdict
        The verdict.
    se_multiple
        The keep rule's band in standard errors (``[gates] elpd_se_multiple``).

    Returns
    -------
    str
        Starts with ``crash:``, ``cancelled:``, ``gate:`` or ``keep rule:``; a tie-break's
        clause is appended to the keep rule.

    Examples
    --------
    >>> from engine.records import Verdict, VerdictKind
    >>> deciding_rule(Verdict(VerdictKind.CRASHED, "timed out after 480 s"))
    'crash: timed out after 480 s'
    """
    if verdict.kind is VerdictKind.CRASHED:
        return f"crash: {verdict.reason}"
    if verdict.kind is VerdictKind.CANCELLED:
        return "cancelled: stopped by the principal before anything was judged"
    if verdict.kind is VerdictKind.FAILED_GATE:
        failed = [g for g in verdict.gates if not g.passed]
        if failed:
            return "gate: " + "; ".join(g.describe() for g in failed)
        return f"gate: {verdict.reason}"
    m = verdict.metrics
    if m.delta_elpd is None:
        return "keep rule: nothing was kept before, so the first model that passes the gates is kept"
    se = m.delta_se or 0.0
    rule = f"keep rule: ΔELPD {m.delta_elpd:+.1f} ± {se:.1f} (needs > {se_multiple:g} × SE = {se_multiple * se:.1f})"
    if verdict.clause and "tie-break" in verdict.clause:
        return f"{rule}; {verdict.clause}"  # the verdict's reason gives the tie-break's numbers
    return rule
