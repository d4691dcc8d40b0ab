"""What a Dask worker runs for one batch task: the same sandboxed harness an approved iteration runs.

A task carries its rows of the data (not a path: a worker on another machine sees no shared
folder), the contract and the exact file to run. The design run and the model's two children
run in the worker's own sandbox server, exactly as in the loop; the critic's rules and the
gates judge the result on the worker, outside the sandbox; the typed :class:`TaskResult` goes
back to the client, which alone writes the session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from engine.batch.plan import TaskSpec
from engine.batch.request import Checks
from engine.batch.results import Check, TaskResult, TaskStatus
from engine.problem import Contract, Gates, SamplingSettings
from engine.records import Loop, VerdictKind

STARTED_TOPIC = "workbench-batch-started"
"""The Dask event topic a task announces its start on (the client counts attempts from it)."""


@dataclass(frozen=True)
class TaskInput:
    """Everything a worker needs for one task; pickled by Dask."""

    batch_id: str
    loop: Loop
    task: TaskSpec
    frame: pd.DataFrame  # the task's rows only
    contract: Contract
    question: str
    gates: Gates
    checks: Checks
    memory_mb: int = 6000
    design_timeout_s: float = 600.0
    grace_s: float = 180.0
    score_timeout_s: float = 300.0


def run_task(job: TaskInput) -> TaskResult:
    """Run one task on this worker and say how it went.

    Parameters
    ----------
    job
        The task and its rows.

    Returns
    -------
    TaskResult
        ``done`` with the estimate, or ``failed`` with the reason (a crash, a timeout, a spec the
        rows cannot carry). A lost worker raises nothing here: Dask runs the task again elsewhere.
    """
    worker = announce(STARTED_TOPIC, job.task.key)
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix=f"wb-batch-{job.batch_id[:20]}-"))
    try:
        if job.loop is Loop.DESIGN:
            result = _design(job, workdir)
        else:
            result = _model(job, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return replace(result, seconds=round(time.perf_counter() - started, 3), worker=worker)


def announce(topic: str, key: str) -> str:
    """Tell the client this task started here (its pid lets a test kill this very worker).

    Parameters
    ----------
    topic
        The Dask event topic the client listens on.
    key
        The task's key.

    Returns
    -------
    str
        This worker's address, or ``local:<pid>`` outside Dask.
    """
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # run outside Dask (a test, a debugger): nobody to tell
        return f"local:{os.getpid()}"
    worker.log_event(topic, {"key": key, "worker": str(worker.address), "pid": os.getpid()})
    return str(worker.address)


def _failed(job: TaskInput, reason: str) -> TaskResult:
    return TaskResult(job.task.key, TaskStatus.FAILED, None, len(job.frame), "crashed", None, reason)


def _design(job: TaskInput, workdir: Path) -> TaskResult:
    from engine import jobs
    from engine.design.critic import critique
    from engine.design.run import DesignSettings
    from engine.design.spec import parse_spec
    from engine.errors import SpecError
    from engine.sandbox import run_in_sandbox

    try:
        spec = parse_spec(job.task.source, job.contract)
    except SpecError as exc:
        return _failed(job, f"the analysis spec is invalid: {exc}")
    settings = DesignSettings(workers=1)  # one task per core: a task's checks run one after another
    if job.checks is Checks.ESTIMATE:
        settings = replace(settings, refuters=(), placebo=False, sensitivity=False, trim_thresholds=())
    outcome = run_in_sandbox(
        jobs.design_job,
        spec,
        (job.frame, job.contract),
        settings=settings,
        timeout_s=job.design_timeout_s,
        memory_mb=job.memory_mb,
        workdir=workdir,
        outputs=(),
    )
    if not outcome.ok:
        return _failed(job, outcome.message)
    result = outcome.value
    review = critique(job.contract, spec, result, question=job.question)
    effect = result.estimate.as_effect()
    if result.estimate.n_dropped == 0:  # the population was decided on the pooled data: say so in the label
        effect = replace(effect, estimand=job.task.estimand_label)
    checks = tuple(Check(d.name, d.status.value, d.message) for d in result.diagnostics())
    credible = result.sanity.credible if result.sanity is not None else None
    return TaskResult(
        job.task.key, TaskStatus.DONE, effect, result.estimate.n, review.tier.value, credible, review.summary, checks
    )


def _model(job: TaskInput, workdir: Path) -> TaskResult:
    from engine import model_run
    from engine.problem import build_model_data

    sampling = job.task.sampling or SamplingSettings()
    data = build_model_data(job.frame, job.contract)
    run = model_run.ModelJob(
        estimand=job.contract.estimand,
        sampling=sampling,
        gates=job.gates,
        workdir=workdir,
        memory_mb=job.memory_mb,
        grace_s=job.grace_s,
        score_timeout_s=job.score_timeout_s,
    )
    output = model_run.score(model_run.sample(job.task.source, data, run), run, job.task.source, data)
    verdict = output.verdict
    effect = verdict.metrics.effect if verdict is not None else None
    if verdict is None or effect is None:
        return _failed(job, verdict.reason if verdict is not None else "the model run returned no verdict")
    effect = replace(effect, estimand=job.task.estimand_label)
    gates = tuple(Check(g.name, "pass" if g.passed else "fail", g.describe()) for g in verdict.gates)
    rating = "failed_gate" if verdict.kind is VerdictKind.FAILED_GATE else "passed"
    reason = verdict.reason if verdict.kind is VerdictKind.FAILED_GATE else "passed every convergence gate"
    return TaskResult(job.task.key, TaskStatus.DONE, effect, data.n, rating, None, reason, gates)
