"""The fixed harness: from a proposed ``model.py`` to a verdict, in one call.

:func:`run_model` loads the model source, builds the model on the allowed data, samples it
with nutpie, takes the pointwise log-likelihood, PSIS-LOO and the estimand by
intervention, applies the gates and the keep rule, writes the trace (NetCDF, with its
``log_likelihood`` group) into the work folder and returns a small, picklable
:class:`HarnessResult`. Nothing raises out of it: a run that produced no trace becomes a
``crashed`` verdict with the reason.

The agent cannot change any of this: the log-likelihood and the unit-level effects
``mu(t=1) − mu(t=0)`` are added to the model *by the harness* after ``build_model``
returns, as Deterministics that nutpie evaluates with every draw (see
:mod:`engine.loglik` and :mod:`engine.effects`), so neither needs a compile of its own.

It runs in-process and keeps no state between calls; the workbench runs it in the
sandbox's child process (:mod:`engine.sandbox`), which passes ``progress=``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ModelContractError
from engine.problem import Estimand, Gates, ModelData, SamplingSettings
from engine.records import Effect, GateResult, Metrics, Verdict, VerdictKind
from engine.scoring import BestSummary, ParamDiagnostic

__all__ = ["TRACE_FILE", "BestSummary", "HarnessResult", "run_model"]

TRACE_FILE = "trace.nc"
"""The trace's file name inside the work folder."""
STAGES = ("load", "compile", "sampling", "loglik", "loo", "effect", "gates", "write", "total")
"""Keys of :attr:`HarnessResult.timings`, in the order they run (seconds each)."""


@dataclass(frozen=True)
class HarnessResult:
    """Everything the harness measured for one model, small enough to pickle back.

    The trace itself stays on disk at :attr:`trace_path`.
    """

    verdict: Verdict
    timings: dict[str, float] = field(default_factory=dict)
    convergence_table: tuple[ParamDiagnostic, ...] = ()
    pointwise_elpd: np.ndarray | None = field(default=None, repr=False, compare=False)
    effect_draws: np.ndarray | None = field(default=None, repr=False, compare=False)  # (chain, draw)
    pareto_k: np.ndarray | None = field(default=None, repr=False, compare=False)  # (observation,)
    trace_path: str | None = None
    error_type: str | None = None  # the exception's class name when crashed (e.g. SamplingCancelled)
    traceback: str | None = None  # model.py frames and the message, when crashed

    @property
    def effect(self) -> Effect | None:
        return self.verdict.metrics.effect

    @property
    def gates(self) -> tuple[GateResult, ...]:
        return self.verdict.gates

    @property
    def metrics(self) -> Metrics:
        return self.verdict.metrics

    def best_summary(self, number: int | None = None) -> BestSummary | None:
        """This model as the reference for the next keep decision (None without an ELPD)."""
        m = self.verdict.metrics
        if m.elpd is None or self.pointwise_elpd is None:
            return None
        return BestSummary(m.elpd, m.elpd_se or float("nan"), self.pointwise_elpd, m.effect, number)


def run_model(
    source: str,
    data: ModelData,
    *,
    contract_estimand: Estimand | str,
    settings: SamplingSettings,
    gates: Gates,
    best: BestSummary | None,
    workdir: str | Path,
    on_progress: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[Any], None] | None = None,
) -> HarnessResult:
    """Sample and judge one model; never raises for anything the model does.

    Parameters
    ----------
    source
        The text of ``model.py``, defining ``build_model(data) -> pm.Model``.
    data
        The allowed controls, treatment and outcome.
    contract_estimand
        ATE, ATT or ATO: the population the effect is averaged over.
    settings
        nutpie chains, draws, tuning steps and seed.
    gates
        Convergence thresholds, the ELPD band and the sampling budget.
    best
        The current best model, or None if nothing has been kept yet.
    workdir
        Folder for ``trace.nc`` (created if missing).
    on_progress
        Receives :class:`engine.sampling.SamplingProgress` snapshots a few times a second.
    should_stop
        Polled while sampling; True cancels (the verdict is ``crashed``, error type
        ``SamplingCancelled``).
    progress
        Same as ``on_progress``; the name :func:`engine.sandbox.run_in_sandbox` passes.

    Returns
    -------
    HarnessResult
        The verdict (kept, discarded, failed_gate or crashed), timings per stage, the
        convergence table, pointwise ELPD, per-draw effects and the trace's path.
    """
    from engine import effects, loglik, scoring
    from engine.sampling import Phase, SamplingProgress, sample

    started = time.perf_counter()
    timings: dict[str, float] = {}
    notify = on_progress or progress
    clock = _Clock(timings)
    workdir = Path(workdir)
    try:
        with clock("load"):
            model = _build(source, data)
            observed = loglik.add_log_likelihood(model)
            estimand = effects.add_estimand(model, effects.estimand_weights(contract_estimand, data.t, data.X))
            # Keep only what the harness reads: per-unit Deterministics such as mu would cost
            # units × draws × 8 bytes each (0.5 GB for LaLonde's 16,177 units).
            keep = [rv.name for rv in model.free_RVs] + [loglik.LOGLIK_PREFIX + observed, estimand]
        idata = sample(
            model, settings, budget_s=gates.sampling_budget_s, on_progress=notify, should_stop=should_stop,
            var_names=keep,
        )
        # With var_names, nutpie also keeps the unconstrained values (sigma_log__): drop them.
        unconstrained = {model.rvs_to_values[rv].name for rv in model.free_RVs} - set(keep)
        idata.posterior = idata.posterior.drop_vars([v for v in unconstrained if v in idata.posterior])
        timings["compile"] = float(idata.posterior.attrs.get("compile_time", float("nan")))
        timings["sampling"] = float(idata.posterior.attrs.get("sampling_time", float("nan")))
        if notify is not None:
            notify(SamplingProgress(Phase.SCORING, timings["sampling"], gates.sampling_budget_s, (), timings["compile"]))
        with clock("loglik"):
            loglik.take_log_likelihood(idata, observed)
        with clock("loo"):
            loo_result = scoring.loo(idata)
        with clock("effect"):
            effect_draws = effects.take_estimand_draws(idata)
            effect = effects.summarize_draws(effect_draws, contract_estimand)
        with clock("gates"):
            table = scoring.convergence_table(idata)
            n_divergent, n_draws = scoring.divergences(idata)
            gate_results = scoring.gate_results(table, n_divergent, n_draws, gates)
            verdict = scoring.decide(
                gate_results,
                loo_result,
                effect,
                best,
                elpd_se_multiple=gates.elpd_se_multiple,
                metrics=Metrics(divergences=n_divergent, n_draws=n_draws),
            )
        with clock("write"):
            workdir.mkdir(parents=True, exist_ok=True)
            trace_path = workdir / TRACE_FILE
            # zlib saves ~6 % on posterior draws and costs ~2 s for IHDP: write uncompressed.
            idata.to_netcdf(str(trace_path), compress=False)
    except Exception as exc:  # noqa: BLE001 - every failure of a model run is a crashed verdict
        timings["total"] = time.perf_counter() - started
        return _crashed(exc, timings)
    timings["total"] = time.perf_counter() - started
    return HarnessResult(
        verdict=verdict,
        timings=timings,
        convergence_table=table,
        pointwise_elpd=loo_result.pointwise,
        effect_draws=effect_draws,
        pareto_k=loo_result.pareto_k,
        trace_path=str(trace_path),
    )


# --------------------------------------------------------------------------- helpers


class _Clock:
    """``with clock("stage"):`` adds the block's wall time to ``timings["stage"]``."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    def __call__(self, stage: str) -> _Clock:
        self._stage = stage
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timings[self._stage] = self.timings.get(self._stage, 0.0) + time.perf_counter() - self._start


def _build(source: str, data: ModelData) -> Any:
    """Load ``model.py`` from source, call ``build_model(data)`` and check the contract."""
    from engine.compile_check import MODEL_MODULE, contract_problem, load_model_module

    try:
        module = load_model_module(source)
        build = getattr(module, "build_model", None)
        if not callable(build):
            raise ModelContractError("model.py defines no build_model(data) function; add one that returns a pm.Model")
        model = build(data)
    finally:  # no state leaks into the next model run in this process
        sys.modules.pop(MODEL_MODULE, None)
    problem = contract_problem(model, data)
    if problem is not None:
        error, hint = problem
        raise ModelContractError(f"{error}; {hint}")
    return model


def _crashed(exc: BaseException, timings: dict[str, float]) -> HarnessResult:
    from engine.compile_check import model_traceback

    message = " ".join(str(exc).split()) or "no message"
    if len(message) > 400:
        message = message[:397] + "..."
    reason = f"{type(exc).__name__}: {message}"
    if not reason.endswith("."):
        reason += "."
    return HarnessResult(
        verdict=Verdict(VerdictKind.CRASHED, reason),
        timings=timings,
        error_type=type(exc).__name__,
        traceback=model_traceback(exc),
    )
