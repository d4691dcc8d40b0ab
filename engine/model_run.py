"""One model run in three sandbox children: the model child samples, a second build must agree, a clean child scores.

Shared by the loop (:class:`engine.loop.Workbench`) and the batch engine's workers, so a
batch task runs exactly the harness an approved iteration runs: the agent's code samples in
one child and writes arrays; the verdict comes from a fresh child that never ran that code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import jobs
from engine.problem import Gates, ModelData, SamplingSettings
from engine.records import CrashInfo, ParamDiagnostic, Verdict, VerdictKind
from engine.sandbox.outcome import CrashKind

if TYPE_CHECKING:
    from engine.design.critic import Critique
    from engine.design.results import DesignResult
    from engine.harness import SampleReport
    from engine.progress import RunProgress
    from engine.sandbox import Gate, SandboxOutcome
    from engine.sandbox.outcome import _CancelLike
    from engine.scoring import BestSummary

CANCELLED_REASON = "cancelled by the principal before it finished; nothing it computed was judged or kept."


@dataclass(frozen=True)
class RunOutput:
    """What running one approved proposal produced, before the record is written."""

    verdict: Verdict | None
    timings: dict[str, float] = field(default_factory=dict)
    convergence: tuple[ParamDiagnostic, ...] = ()
    crash: CrashInfo | None = None
    design: DesignResult | None = None
    critique: Critique | None = None
    pointwise: Any = None  # the model's pointwise ELPD (a NumPy array), saved beside the history


@dataclass(frozen=True)
class ModelJob:
    """Everything both children need besides the model's source and data."""

    estimand: str  # the contract's estimand
    sampling: SamplingSettings
    gates: Gates
    workdir: Path
    memory_mb: int
    grace_s: float  # on top of the sampling budget, for building and compiling
    score_timeout_s: float


def sample(
    source: str,
    data: ModelData,
    job: ModelJob,
    *,
    on_progress: Callable[[RunProgress], None] | None = None,
    cancel: _CancelLike | None = None,
    gate: Gate | None = None,
) -> SandboxOutcome:
    """The model child: build, (compile and wait behind ``gate``,) sample, write the arrays.

    Parameters
    ----------
    source
        The text of ``model.py``.
    data
        What ``build_model`` receives.
    job
        Settings, gates, limits and the folder the arrays land in.
    on_progress
        Receives sampling progress.
    cancel
        Stops the child when set.
    gate
        Compile during review: the child compiles, then waits for the gate to open.

    Returns
    -------
    SandboxOutcome
        Its value is the child's :class:`~engine.harness.SampleReport`.
    """
    from engine.draws import DIMS_FILE, DRAWS_FILE
    from engine.sandbox import run_in_sandbox

    return run_in_sandbox(
        jobs.sample_job,
        source,
        data,
        contract_estimand=job.estimand,
        settings=job.sampling,
        gates=job.gates,
        timeout_s=job.gates.sampling_budget_s + job.grace_s,
        memory_mb=job.memory_mb,
        workdir=job.workdir,
        on_progress=on_progress,
        cancel=cancel,
        outputs=(DRAWS_FILE, DIMS_FILE),
        gate=gate,
        gated=gate is not None,
    )


def score(
    sampled: SandboxOutcome,
    job: ModelJob,
    source: str,
    data: ModelData,
    *,
    best: BestSummary | None = None,
    cancel: _CancelLike | None = None,
) -> RunOutput:
    """Judge what the model child left: a second build must agree with it, then a clean child scores the arrays.

    Parameters
    ----------
    sampled
        The model child's outcome (from :func:`sample`, or a child compiled during review).
    job
        The same job the child ran with.
    source
        The ``model.py`` it ran (built again on reshuffled data: :func:`reproduced`).
    data
        The data it saw (its rows are checked against the arrays' shape).
    best
        The loop's best so far, for the keep rule (None: judged on the gates alone).
    cancel
        Stops the scorer when set.

    Returns
    -------
    RunOutput
        Cancelled, crashed or judged; the effect draws and Pareto k are saved in ``job.workdir``.
    """
    from engine.harness import SampleReport

    if not sampled.ok:
        return RunOutput(unfinished(sampled))
    report = (
        sampled.value
        if isinstance(sampled.value, SampleReport)
        else SampleReport(crashed="the model child returned no report.")
    )
    report = replace(report, timings=trusted_timings(report.timings, sampled.seconds))
    if report.crashed is not None and report.error_type == "SamplingCancelled":
        return RunOutput(Verdict(VerdictKind.CANCELLED, CANCELLED_REASON), dict(report.timings))
    report = report.checked_files(job.workdir)
    if report.crashed is not None:
        result = report.as_crashed()
    else:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="second-build") as pool:
            second = pool.submit(reproduced, report, source, data, job, cancel)  # beside the scorer: neither waits
            scored = _on_the_arrays(
                jobs.score_job,
                job,
                data.n,
                outputs=(),
                cancel=cancel,
                contract_estimand=job.estimand,
                gates=job.gates,
                best=best,
            )
            report, probe = second.result()
        if probe is not None and probe.crash is CrashKind.CANCELLED:
            return RunOutput(Verdict(VerdictKind.CANCELLED, CANCELLED_REASON), dict(report.timings))
        if report.crashed is not None:  # what the scorer made of these arrays is not kept
            result = report.as_crashed()
        elif not scored.ok:
            return RunOutput(unfinished(scored, "scoring failed: "), dict(report.timings))
        else:
            result = scored.value.with_timings(report.timings)
    crash = CrashInfo(result.error_type, result.traceback or "") if result.error_type else None
    save_arrays(job.workdir, effect_draws=result.effect_draws, pareto_k=result.pareto_k)
    return RunOutput(
        result.verdict,
        dict(result.timings),
        convergence=tuple(result.convergence_table),
        crash=crash,
        pointwise=result.pointwise_elpd,
    )


def reproduced(
    report: SampleReport, source: str, data: ModelData, job: ModelJob, cancel: _CancelLike | None = None
) -> tuple[SampleReport, SandboxOutcome | None]:
    """The report, or crashed as a contract error when ``model.py`` built on reshuffled data disagrees with it.

    A third child builds the model again from the data's rows in another order, with treatment
    and outcome moved to other units again (:func:`engine.fingerprint.reshuffled`, in orders only
    this process knows), and takes its fingerprint at the model child's probe moved to those
    rows. A model that uses ``t`` only through the container, ``y`` only in ``observed=`` and
    the controls row by row gives the same numbers for the same units; a copy of the treatment or
    outcome, or numbers tied to row positions, in whatever encoding, does not, and the second
    build cannot learn the orders to undo them.

    Parameters
    ----------
    report
        The model child's report, with its fingerprint.
    source
        The ``model.py`` it ran.
    data
        The data it saw.
    job
        Its limits (the second build gets the grace time and memory).
    cancel
        Stops the second build when set.

    Returns
    -------
    tuple of (SampleReport, SandboxOutcome or None)
        The report (crashed when the builds disagree, or the second failed) and the second
        child's outcome (None when there was nothing to compare).
    """
    import tempfile
    import time

    from engine.fingerprint import Fingerprint, fingerprint_mismatch, reshuffled
    from engine.sandbox import run_in_sandbox

    stamp = report.fingerprint
    if stamp is None:
        return _breach(report, "the model child sent no fingerprint of its build."), None
    started = time.perf_counter()
    shuffle = reshuffled(data)
    with tempfile.TemporaryDirectory(prefix="workbench-probe-") as folder:
        probe = run_in_sandbox(
            jobs.probe_job,
            source,
            shuffle.data,
            probe=stamp.probe.moved(shuffle.rows),
            timeout_s=job.grace_s,
            memory_mb=job.memory_mb,
            workdir=folder,
            cancel=cancel,
            outputs=(),
        )
    timings = {**report.timings, "rebuild": time.perf_counter() - started}
    report = replace(report, timings=timings)
    if not probe.ok or not isinstance(probe.value, Fingerprint):
        why = probe.message if not probe.ok else "it returned no fingerprint"
        reason = (
            f"ModelContractError: model.py did not build again on the data reshuffled over the "
            f"units ({why}); build_model must work on any data of this shape."
        )
        return _breach(report, reason), probe
    mismatch = fingerprint_mismatch(stamp, probe.value, shuffle.rows)
    if mismatch is None:
        return report, probe
    return _breach(report, f"ModelContractError: {mismatch[0]}; {mismatch[1]}."), probe


def _breach(report: SampleReport, reason: str) -> SampleReport:
    """``report`` crashed with ``reason`` as a breach of the model contract."""
    return replace(report, crashed=reason, error_type="ModelContractError")


def write_trace(job: ModelJob, n_units: int) -> SandboxOutcome:
    """After the verdict: a clean child writes ``trace.nc`` from the arrays; the arrays then go.

    The trace holds the same validated draws (and the log-likelihood ArviZ's ``loo`` wants),
    so ``draws.npz`` and ``dims.json`` are removed once it is in place: one copy of the draws
    per iteration (a gigabyte less for every LaLonde iteration). When the child fails, the
    arrays stay and nothing else changes: the verdict was recorded already.

    Parameters
    ----------
    job
        The job the model child and the scorer ran with.
    n_units
        Rows of the data the model saw.

    Returns
    -------
    SandboxOutcome
        The trace writer's outcome.
    """
    from engine.draws import DIMS_FILE, DRAWS_FILE, TRACE_FILE

    outcome = _on_the_arrays(jobs.trace_job, job, n_units, outputs=(TRACE_FILE,))
    if outcome.ok and (job.workdir / TRACE_FILE).is_file():
        for name in (DRAWS_FILE, DIMS_FILE):
            (job.workdir / name).unlink(missing_ok=True)
    return outcome


def _on_the_arrays(
    entry: Callable[..., Any],
    job: ModelJob,
    n_units: int,
    *,
    outputs: tuple[str, ...],
    cancel: _CancelLike | None = None,
    **kwargs: Any,
) -> SandboxOutcome:
    """Run harness code (the scorer, the trace writer) in a clean child over the model child's arrays.

    The child gets copies of ``draws.npz`` and the label files, the shape the settings and
    data call for, and the scorer's time and memory; it never sees the model's source.

    Parameters
    ----------
    entry
        The :mod:`engine.jobs` entry point.
    job
        The job the model child ran with.
    n_units
        Rows of the data the model saw.
    outputs
        Files the child may leave in ``job.workdir``.
    cancel
        Stops the child when set.
    **kwargs
        The entry point's own keywords.

    Returns
    -------
    SandboxOutcome
    """
    from engine.draws import DRAWS_FILE, DrawsShape
    from engine.sandbox import run_in_sandbox

    return run_in_sandbox(
        entry,
        expected=DrawsShape(job.sampling.chains, job.sampling.draws, n_units),
        inputs={DRAWS_FILE: job.workdir / DRAWS_FILE, **jobs.labels(job.workdir)},
        audit=False,  # harness code only: this process never sees the model's source
        keep_log=False,  # the model child's log stays beside the verdict
        outputs=outputs,
        timeout_s=job.score_timeout_s,
        memory_mb=job.memory_mb,
        workdir=job.workdir,
        cancel=cancel,
        **kwargs,
    )


def trusted_timings(timings: dict[str, float], limit_s: float) -> dict[str, float]:
    """The model child's timings that can be true: finite, not negative, within the job's own span.

    The child ran agent code, so its report is its word: the border checks only the types.

    Parameters
    ----------
    timings
        Stage name → seconds, as the model child reported them.
    limit_s
        What the parent measured for the whole job (a stage cannot take longer).

    Returns
    -------
    dict of str to float
        The plausible entries; the others are left out rather than recorded.
    """
    return {k: float(v) for k, v in timings.items() if math.isfinite(v) and 0.0 <= v <= limit_s + 1.0}


def unfinished(outcome: SandboxOutcome, prefix: str = "") -> Verdict:
    """A job that returned no value: cancelled (the principal's doing) or crashed (the code's).

    Parameters
    ----------
    outcome
        The sandbox outcome without a value.
    prefix
        Put before the crash message (``scoring failed: ``).

    Returns
    -------
    Verdict
    """
    from engine.sandbox import CrashKind

    if outcome.crash is CrashKind.CANCELLED:
        return Verdict(VerdictKind.CANCELLED, CANCELLED_REASON)
    return Verdict(VerdictKind.CRASHED, prefix + outcome.message)


def save_arrays(folder: Path, **arrays: Any) -> None:
    """Save per-draw and per-observation arrays beside the history (screens and report plot them).

    Parameters
    ----------
    folder
        The iteration's artefacts folder.
    **arrays
        Each saved as ``<name>.npy``; None values are skipped.
    """
    import numpy as np

    for name, values in arrays.items():
        if values is not None:
            np.save(folder / f"{name}.npy", np.asarray(values))
