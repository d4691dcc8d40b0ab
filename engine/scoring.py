"""Gates and the keep rule: how the fixed harness judges a sampled model.

Pure functions over numbers, so every branch of the rule can be tested without sampling:

- :func:`convergence_table` and :func:`gate_results` — R-hat, bulk and tail ESS per scalar
  free parameter (ArviZ; ``mu`` and other deterministics are not parameters), and the
  divergence rate, against :class:`~engine.problem.Gates`;
- :func:`loo` — PSIS-LOO ELPD with its SE, p_loo, Pareto-k and the pointwise ELPD;
- :func:`compare_to_best` — ΔELPD and the SE of the paired difference, as ``az.compare``;
- :func:`decide` — the verdict: ``failed_gate`` (which gate, by how much), else ``kept``
  for the first model, else keep on ΔELPD > k·SE, within the band keep only a narrower
  effect interval, else ``discarded``. ``crashed`` is never decided here: it is for runs
  that produced no trace (see :mod:`engine.harness`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.iteration import IterationRecord
from engine.problem import ELPD_SE_MULTIPLE, Gates, TieBreak
from engine.records import Effect, GateResult, Metrics, ParamDiagnostic, Verdict, VerdictKind

if TYPE_CHECKING:
    import arviz as az

PARETO_K_BAD = 0.7
"""Observations with Pareto k above this make the PSIS estimate unreliable for them."""

RHAT, ESS_BULK, ESS_TAIL, DIVERGENCE_RATE = "rhat", "ess_bulk", "ess_tail", "divergence_rate"
"""Gate names, as :class:`~engine.records.GateResult` carries them."""


@dataclass(frozen=True)
class LooResult:
    """PSIS-LOO for one model."""

    elpd: float
    se: float
    p_loo: float
    pareto_k_bad: int  # observations with k > PARETO_K_BAD
    pareto_k_max: float
    pointwise: np.ndarray = field(repr=False, compare=False)  # ELPD of each observation
    n_obs: int = 0
    pareto_k: np.ndarray | None = field(default=None, repr=False, compare=False)  # k of each observation


@dataclass(frozen=True)
class BestSummary:
    """What the keep rule needs of the current best model."""

    elpd: float
    elpd_se: float
    pointwise_elpd: np.ndarray = field(repr=False, compare=False)
    effect: Effect | None = None
    number: int | None = None  # its iteration, for the verdict's wording
    p_loo: float | None = None  # its effective number of parameters, for the "simpler" tie-break

    @classmethod
    def from_record(cls, record: IterationRecord, pointwise_elpd: np.ndarray | None) -> BestSummary | None:
        """Rebuild from a recorded iteration and its saved pointwise ELPD (None if unusable).

        Parameters
        ----------
        record
            The kept iteration.
        pointwise_elpd
            Its saved per-observation ELPD, or None.

        Returns
        -------
        BestSummary or None
            None when the record has no verdict or ELPD, or ``pointwise_elpd`` is None.
        """
        metrics = record.verdict.metrics if record.verdict else None
        if metrics is None or metrics.elpd is None or pointwise_elpd is None:
            return None
        return cls(
            elpd=metrics.elpd,
            elpd_se=metrics.elpd_se if metrics.elpd_se is not None else float("nan"),
            pointwise_elpd=np.asarray(pointwise_elpd, dtype=float),
            effect=metrics.effect,
            number=record.number,
            p_loo=metrics.p_loo,
        )


# --------------------------------------------------------------------------- gates


def convergence_table(idata: az.InferenceData, var_names: Sequence[str] | None = None) -> tuple[ParamDiagnostic, ...]:
    """R-hat and bulk/tail ESS for every scalar free parameter, worst first.

    Parameters
    ----------
    idata
        A trace with a ``posterior`` group.
    var_names
        The free parameters. Default: those :func:`engine.sampling.sample` recorded, so
        deterministics such as ``mu`` are left out.

    Returns
    -------
    tuple of ParamDiagnostic
        Sorted by how far each parameter is from passing: highest R-hat first, ties broken
        by the lower ESS.
    """
    import arviz as az

    from engine.sampling import free_parameter_names

    names = list(var_names) if var_names is not None else free_parameter_names(idata)
    if not names:
        return ()
    summary = az.summary(idata, var_names=names, kind="diagnostics", round_to="none")
    rows = [
        ParamDiagnostic(str(label), float(row["r_hat"]), float(row["ess_bulk"]), float(row["ess_tail"]))
        for label, row in summary.iterrows()
    ]
    return tuple(sorted(rows, key=_badness))


def divergences(idata: az.InferenceData) -> tuple[int, int]:
    """Post-warmup divergent transitions and the number of post-warmup draws (all chains).

    Parameters
    ----------
    idata
        A trace with ``sample_stats.diverging``.

    Returns
    -------
    tuple of (int, int)
        ``(divergent, draws)``.
    """
    diverging = idata.sample_stats["diverging"].values  # type: ignore[attr-defined]  # arviz groups are dynamic attributes
    return int(diverging.sum()), int(diverging.size)


def gate_results(
    table: Sequence[ParamDiagnostic], n_divergent: int, n_draws: int, gates: Gates
) -> tuple[GateResult, ...]:
    """The four convergence gates from a convergence table and the divergence count.

    A NaN diagnostic (a parameter that never moved) fails its gate.

    Parameters
    ----------
    table
        One row per parameter (:func:`convergence_table`).
    n_divergent, n_draws
        Divergent transitions and post-warmup draws, all chains (:func:`divergences`).
    gates
        The thresholds; each comparison is strict (R-hat below, ESS above, rate below).

    Returns
    -------
    tuple of GateResult
        In the order rhat, ess_bulk, ess_tail, divergence_rate.
    """
    rhats = [p.rhat for p in table]
    bulk = [p.ess_bulk for p in table]
    tail = [p.ess_tail for p in table]
    rhat_max = _worst(rhats, max)
    bulk_min = _worst(bulk, min)
    tail_min = _worst(tail, min)
    rate = n_divergent / n_draws if n_draws else float("nan")
    return (
        GateResult(RHAT, rhat_max, gates.rhat_max, _ok(rhat_max < gates.rhat_max)),
        GateResult(ESS_BULK, bulk_min, gates.ess_bulk_min, _ok(bulk_min > gates.ess_bulk_min)),
        GateResult(ESS_TAIL, tail_min, gates.ess_tail_min, _ok(tail_min > gates.ess_tail_min)),
        GateResult(DIVERGENCE_RATE, rate, gates.divergence_rate_max, _ok(rate < gates.divergence_rate_max)),
    )


def check_gates(
    idata: az.InferenceData, gates: Gates, var_names: Sequence[str] | None = None
) -> tuple[GateResult, ...]:
    """Apply the convergence gates to a trace: max R-hat, min bulk and tail ESS, divergence rate.

    Parameters
    ----------
    idata
        A trace with ``posterior`` and ``sample_stats``.
    gates
        The thresholds.
    var_names
        The free parameters; see :func:`convergence_table`.

    Returns
    -------
    tuple of GateResult
        In the order rhat, ess_bulk, ess_tail, divergence_rate.
    """
    return gate_results(convergence_table(idata, var_names), *divergences(idata), gates)


# --------------------------------------------------------------------------- ELPD


def loo(idata: az.InferenceData, var_names: Sequence[str] | None = None) -> LooResult:
    """PSIS-LOO of a trace with a ``log_likelihood`` group: ``az.loo(pointwise=True)``, vectorised.

    The relative efficiency that sets the Pareto tail length is the mean ESS of the free
    parameters per draw — ArviZ's own formula, but without deterministics such as ``mu``,
    which are not parameters and cost most of the time with one entry per unit. The
    smoothing runs in :func:`engine.psis.psis_loo`, which gives ArviZ's numbers several
    times faster on thousands of observations.

    Parameters
    ----------
    idata
        A trace with ``posterior`` and ``log_likelihood``.
    var_names
        The free parameters; default as in :func:`convergence_table`.

    Returns
    -------
    LooResult
        ELPD, its SE, p_loo, the count of Pareto k above :data:`PARETO_K_BAD` and the largest
        k, the pointwise ELPD and every observation's k.
    """
    import arviz as az

    from engine.psis import psis_loo
    from engine.sampling import free_parameter_names

    names = list(var_names) if var_names is not None else free_parameter_names(idata)
    post = idata.posterior  # type: ignore[attr-defined]  # arviz groups are dynamic attributes
    n_samples = post.sizes["chain"] * post.sizes["draw"]
    reff = None
    if names and post.sizes["chain"] > 1:
        ess = az.ess(post[names], method="mean")
        reff = float(np.hstack([ess[v].values.ravel() for v in ess.data_vars]).mean() / n_samples)
    log_lik = idata.log_likelihood  # type: ignore[attr-defined]
    if len(log_lik.data_vars) != 1:
        raise ValueError(f"PSIS-LOO needs one log-likelihood variable, the trace has {len(log_lik.data_vars)}")
    values = next(iter(log_lik.data_vars.values())).transpose("chain", "draw", ...).values
    result = psis_loo(values.reshape(*values.shape[:2], -1), reff if reff is not None else 1.0)
    k = result.pareto_k
    return LooResult(
        elpd=result.elpd,
        se=result.se,
        p_loo=result.p_loo,
        pareto_k_bad=int((k > PARETO_K_BAD).sum()),
        pareto_k_max=float(np.nanmax(k)) if k.size else float("nan"),
        pointwise=result.pointwise,
        n_obs=int(result.pointwise.size),
        pareto_k=k.astype(float),
    )


def compare_to_best(pointwise_new: np.ndarray, pointwise_best: np.ndarray) -> tuple[float, float]:
    """ΔELPD of a new model over the best, and the SE of that paired difference.

    ``se = sqrt(n · var(diff))`` with the population variance, as ``az.compare`` computes it.

    Parameters
    ----------
    pointwise_new, pointwise_best
        Per-observation ELPD of the two models, over the same observations.

    Returns
    -------
    tuple of (float, float)
        ``(delta, se)``; positive ``delta`` means the new model predicts better.

    Raises
    ------
    ValueError
        If the two models were scored on different numbers of observations.
    """
    new = np.asarray(pointwise_new, dtype=float).ravel()
    best = np.asarray(pointwise_best, dtype=float).ravel()
    if new.shape != best.shape:
        raise ValueError(
            f"cannot compare ELPD over {new.size} observations with ELPD over {best.size}: the data changed"
        )
    diff = new - best
    return float(diff.sum()), float(math.sqrt(diff.size * np.var(diff)))


# --------------------------------------------------------------------------- the verdict


CLAUSE_GATE = "a convergence gate failed"
CLAUSE_NO_LOO = "PSIS-LOO could not be computed"
CLAUSE_REFERENCE = "the first model to pass the gates"
CLAUSE_BETTER = "ΔELPD above the band"
CLAUSE_WORSE = "ΔELPD below the band"
CLAUSE_TIE_NARROWER = "within the band: tie-break on the narrower interval"
CLAUSE_TIE_SIMPLER = "within the band: tie-break on the simpler model"
CLAUSE_TIE_NONE = "within the band: no tie-break"
CLAUSES = (
    CLAUSE_GATE,
    CLAUSE_NO_LOO,
    CLAUSE_REFERENCE,
    CLAUSE_BETTER,
    CLAUSE_WORSE,
    CLAUSE_TIE_NARROWER,
    CLAUSE_TIE_SIMPLER,
    CLAUSE_TIE_NONE,
)
"""Every clause of the gates and the keep rule that can decide a verdict (:attr:`Verdict.clause`)."""


def decide(
    gates: Sequence[GateResult],
    loo_result: LooResult | None,
    effect: Effect | None,
    best: BestSummary | None,
    *,
    elpd_se_multiple: float = ELPD_SE_MULTIPLE,
    metrics: Metrics | None = None,
    tie_break: TieBreak | str = TieBreak.NARROWER_INTERVAL,
) -> Verdict:
    """Judge a sampled model by the gates, then the keep rule.

    Parameters
    ----------
    gates
        From :func:`check_gates` / :func:`gate_results`.
    loo_result
        The model's PSIS-LOO (None only if it could not be computed, which discards it).
    effect
        The model's estimand by intervention.
    best
        The current best model, or None when nothing has been kept yet.
    elpd_se_multiple
        ΔELPD must exceed this many SEs of the difference to keep on ELPD alone.
    metrics
        Other measurements to carry in the verdict (convergence summaries, divergences);
        ELPD, ΔELPD and the effect are filled in here.
    tie_break
        What decides within the band (``[gates] tie_break``): the narrower effect interval,
        the simpler model (lower p_loo), or nothing.

    Returns
    -------
    Verdict
        ``failed_gate``, ``kept`` or ``discarded``, with a one-sentence reason and the
        clause that decided (:data:`CLAUSES`).
    """
    tie_break = TieBreak(tie_break)
    base = metrics or Metrics()
    gates = tuple(gates)
    base = replace(
        base,
        effect=effect,
        rhat_max=_gate_value(gates, RHAT, base.rhat_max),
        ess_bulk_min=_gate_value(gates, ESS_BULK, base.ess_bulk_min),
        ess_tail_min=_gate_value(gates, ESS_TAIL, base.ess_tail_min),
        divergence_rate=_gate_value(gates, DIVERGENCE_RATE, base.divergence_rate),
    )
    if loo_result is not None:
        base = replace(
            base,
            elpd=loo_result.elpd,
            elpd_se=loo_result.se,
            p_loo=loo_result.p_loo,
            pareto_k_bad=loo_result.pareto_k_bad,
            pareto_k_max=loo_result.pareto_k_max,
        )
    delta = se_delta = None
    if loo_result is not None and best is not None:
        delta, se_delta = compare_to_best(loo_result.pointwise, best.pointwise_elpd)
        base = replace(base, delta_elpd=delta, delta_se=se_delta)

    failed = [g for g in gates if not g.passed]
    if failed:
        reason = "failed gate: " + "; ".join(_shortfall(g) for g in failed) + "."
        return Verdict(VerdictKind.FAILED_GATE, reason, base, gates, CLAUSE_GATE)
    if loo_result is None or not math.isfinite(loo_result.elpd):
        reason = "PSIS-LOO could not be computed, so the model cannot be ranked."
        return Verdict(VerdictKind.DISCARDED, reason, base, gates, CLAUSE_NO_LOO)
    if best is None:
        reason = f"passed all gates and becomes the reference model (ELPD {loo_result.elpd:.1f} ± {loo_result.se:.1f})."
        return Verdict(VerdictKind.KEPT, reason, base, gates, CLAUSE_REFERENCE)
    assert delta is not None and se_delta is not None
    band = elpd_se_multiple * se_delta
    versus = f"iteration {best.number}" if best.number is not None else "the best model"
    change = f"ΔELPD {delta:+.1f} against {versus} (SE {se_delta:.1f}, band ±{band:.1f})"
    if delta > band:
        return Verdict(
            VerdictKind.KEPT, f"{change}: better by more than {elpd_se_multiple:g} SE.", base, gates, CLAUSE_BETTER
        )
    if delta < -band:
        return Verdict(
            VerdictKind.DISCARDED, f"{change}: worse by more than {elpd_se_multiple:g} SE.", base, gates, CLAUSE_WORSE
        )
    return _tie_break(tie_break, change, effect, best, base, gates)


def _tie_break(
    rule: TieBreak, change: str, effect: Effect | None, best: BestSummary, base: Metrics, gates: tuple[GateResult, ...]
) -> Verdict:
    """Within the band: the contract's tie-break decides, and the verdict says it did."""
    if rule is TieBreak.NONE:
        reason = f"{change}: within the band, and this problem has no tie-break, so only a ΔELPD beyond the band keeps."
        return Verdict(VerdictKind.DISCARDED, reason, base, gates, CLAUSE_TIE_NONE)
    if rule is TieBreak.SIMPLER:
        new_p, best_p = base.p_loo, best.p_loo
        if new_p is not None and best_p is not None and new_p < best_p:
            reason = f"{change}: within the band, and the tie-break keeps the simpler model (p_loo {new_p:.1f} vs {best_p:.1f})."
            return Verdict(VerdictKind.KEPT, reason, base, gates, CLAUSE_TIE_SIMPLER)
        reason = (
            f"{change}: within the band, and by the tie-break it is not simpler "
            f"(p_loo {_fmt(new_p)} vs {_fmt(best_p)})."
        )
        return Verdict(VerdictKind.DISCARDED, reason, base, gates, CLAUSE_TIE_SIMPLER)
    new_w = effect.width if effect is not None else float("nan")
    best_w = best.effect.width if best.effect is not None else float("nan")
    name = effect.estimand if effect is not None else "effect"
    if effect is not None and best.effect is not None and new_w < best_w:
        reason = f"{change}: within the band, and the tie-break keeps the narrower {name} interval ({new_w:.3g} vs {best_w:.3g})."
        return Verdict(VerdictKind.KEPT, reason, base, gates, CLAUSE_TIE_NARROWER)
    reason = f"{change}: within the band, and by the tie-break its {name} interval is not narrower ({new_w:.3g} vs {best_w:.3g})."
    return Verdict(VerdictKind.DISCARDED, reason, base, gates, CLAUSE_TIE_NARROWER)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


# --------------------------------------------------------------------------- helpers


def _badness(p: ParamDiagnostic) -> tuple[float, float]:
    rhat = p.rhat if math.isfinite(p.rhat) else math.inf
    ess = min(p.ess_bulk, p.ess_tail)
    return (-rhat, ess if math.isfinite(ess) else -math.inf)


def _worst(values: Sequence[float], pick: Any) -> float:
    if not values:
        return float("nan")
    if any(not math.isfinite(v) for v in values):
        return float("nan")
    return float(pick(values))


def _ok(condition: Any) -> bool:
    return bool(condition)  # NaN comparisons are False: a NaN diagnostic fails its gate


def _gate_value(gates: Sequence[GateResult], name: str, default: float | None) -> float | None:
    return next((g.value for g in gates if g.name == name), default)


def _shortfall(g: GateResult) -> str:
    """One gate's failure in words, with how far it missed."""
    if not math.isfinite(g.value):
        return f"{g.name} is undefined (a parameter did not move; needs {_op(g)} {g.threshold:g})"
    if g.name == DIVERGENCE_RATE:
        return (
            f"divergence rate {g.value:.2%} ≥ {g.threshold:.2%} ({g.value / g.threshold:.1f}× the limit)"
            if g.threshold
            else (f"divergence rate {g.value:.2%} > 0")
        )
    if g.name == RHAT:
        return f"max R-hat {g.value:.3f} ≥ {g.threshold:g} (over by {g.value - g.threshold:.3f})"
    label = "bulk" if g.name == ESS_BULK else "tail"
    return f"min {label} ESS {g.value:.0f} ≤ {g.threshold:g} (short by {g.threshold - g.value:.0f})"


def _op(g: GateResult) -> str:
    return "<" if g.name in (RHAT, DIVERGENCE_RATE) else ">"
