"""What the model child, the scorer and the harness agree on: file names, shapes, the result.

The model child (:func:`engine.harness.sample_model`) writes :data:`DRAWS_FILE` and
:data:`DIMS_FILE`; the scorer (:mod:`engine.scorer`) reads them against a
:class:`DrawsShape` it was given, not one the child chose, and returns a
:class:`HarnessResult`. Both sides import this module and not each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from engine.records import Effect, GateResult, Metrics, Verdict
from engine.scoring import BestSummary, ParamDiagnostic

__all__ = ["DIMS_FILE", "DRAWS_FILE", "STAGES", "TRACE_FILE", "DrawsShape", "HarnessResult"]

DRAWS_FILE = "draws.npz"
"""The model child's output: free parameters, pointwise log-likelihood, estimand, divergences."""
DIMS_FILE = "dims.json"
"""Dimension and coordinate names of the free parameters, for readable labels (validated by the scorer)."""
TRACE_FILE = "trace.nc"
"""The trace's file name inside the work folder."""
STAGES = ("load", "compile", "sampling", "write", "read", "loo", "effect", "gates", "trace", "total")
"""Keys of :attr:`HarnessResult.timings`, in the order they run (seconds each)."""


@dataclass(frozen=True)
class DrawsShape:
    """What the scorer expects of the model child's arrays (from the settings and data, not from the child)."""

    chains: int
    draws: int
    n_obs: int


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

    def with_timings(self, earlier: dict[str, float]) -> HarnessResult:
        """This result with the model child's timings in front of the scorer's.

        Parameters
        ----------
        earlier
            The model child's timings per stage.

        Returns
        -------
        HarnessResult
            A copy whose ``total`` is the sum of both totals.
        """
        timings = {**earlier, **{k: v for k, v in self.timings.items() if k != "total"}}
        timings["total"] = earlier.get("total", 0.0) + self.timings.get("total", 0.0)
        return replace(self, timings=timings)

    def best_summary(self, number: int | None = None) -> BestSummary | None:
        """This model as the reference for the next keep decision (None without an ELPD).

        Parameters
        ----------
        number
            The iteration this result belongs to, for the next verdict's wording.

        Returns
        -------
        BestSummary or None
            None when the result has no ELPD or no pointwise ELPD.
        """
        m = self.verdict.metrics
        if m.elpd is None or self.pointwise_elpd is None:
            return None
        return BestSummary(m.elpd, m.elpd_se or float("nan"), self.pointwise_elpd, m.effect, number, m.p_loo)
