"""Run a batch on a session: plan it (or find its plan), run what is not recorded, record as tasks finish.

The client (this process) alone writes the session: the plan first, then one commit per
finished task. One commit per task rather than one per batch, because a batch can run for
hours on a cluster: a kill, a Ctrl-C or a lost client then costs only the tasks that were
running, and running the same command again resumes from the history instead of from zero.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from engine.batch import store
from engine.batch.cluster import stream
from engine.batch.plan import Population, batch_id, build_plan, population_trims, task_rows
from engine.batch.population import decide_population
from engine.batch.request import BatchRequest
from engine.batch.results import BatchProgress, TaskResult, TaskStarted, TaskStatus
from engine.batch.task import STARTED_TOPIC, TaskInput, run_task
from engine.errors import BatchError
from engine.problem import Problem
from engine.records import Loop
from engine.store.session import Session


@dataclass(frozen=True)
class BatchOutcome:
    """How a batch run ended: its plan, every recorded result, and what is left."""

    batch: store.StoredBatch
    resumed: int  # tasks recorded by an earlier run, skipped this time
    stopped: bool  # stopped early (Ctrl-C, a stop request): run the same command again to resume
    errors: tuple[str, ...]  # tasks that raised or whose workers kept dying: not recorded, run again on resume

    @property
    def missing(self) -> int:
        return len(self.batch.plan.tasks) - len(self.batch.results)


def source_for(session: Session, loop: Loop) -> tuple[str, str]:
    """The file a batch of ``loop`` runs (the loop's best) and where it came from, in words.

    Parameters
    ----------
    session
        The session.
    loop
        Which loop's best.

    Returns
    -------
    tuple of (str, str)
        The file's text and its provenance.
    """
    best = session.best(loop)
    text = session.best_source(loop)
    if best is None:
        return text, f"the session's current {loop.file} (nothing kept yet)"
    return text, f"the best {'design' if loop is Loop.DESIGN else 'model'}, iteration {best.number} ({loop.file})"


def plan_batch(session: Session, problem: Problem, request: BatchRequest, client: Any) -> store.StoredBatch:
    """The batch as committed: the plan already there for the same request (with its results), or a new one.

    The pooled populations a partitioned batch needs are decided first, as Dask tasks.

    Parameters
    ----------
    session
        Open for writing.
    problem
        The session's problem (its data, contract and sampling settings).
    request
        What was asked.
    client
        A ``distributed.Client``.

    Returns
    -------
    StoredBatch
        The plan and the results recorded so far (none for a new plan, committed now).

    Raises
    ------
    BatchError
        An unusable request (partition column, setting), or data that changed since the session began.
    """
    if problem.data_hash != session.info.data_hash:
        raise BatchError(
            f"the problem's data changed since session {session.id} began (hash {session.info.data_hash[:12]} → "
            f"{problem.data_hash[:12]}); start a new session on the new data"
        )
    source, source_from = source_for(session, request.loop)
    plan_id = batch_id(request, source, problem.data_hash, problem.sampling)
    found = store.load_batch(session, plan_id)
    if found is not None:
        return found
    from engine.batch.plan import check_partition_column

    if request.by is not None:  # say what is wrong with the column before any work is sent
        check_partition_column(problem.data, problem.contract, request.by)
    spec_source = source if request.loop is Loop.DESIGN else session.best_source(Loop.DESIGN)
    trims = population_trims(request, spec_source, problem.contract)
    futures = [client.submit(decide_population, problem.data, problem.contract, spec_source, t) for t in trims]
    populations: tuple[Population, ...] = tuple(client.gather(futures)) if futures else ()
    plan = build_plan(
        request,
        plan_id=plan_id,
        frame=problem.data,
        contract=problem.contract,
        source=source,
        source_from=source_from,
        sampling=problem.sampling,
        populations=populations,
        data_hash=problem.data_hash,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    store.save_plan(session, plan)
    return store.StoredBatch(plan, {})


def run_batch(
    session: Session,
    problem: Problem,
    request: BatchRequest,
    client: Any,
    *,
    on_progress: Callable[[BatchProgress], None] | None = None,
    stop: threading.Event | None = None,
    memory_mb: int = 6000,
) -> BatchOutcome:
    """Plan (or resume) a batch and run every task not yet recorded, recording each as it finishes.

    Parameters
    ----------
    session
        Open for writing; only this process writes it.
    problem
        The session's problem.
    request
        What to run.
    client
        A ``distributed.Client`` (see :func:`engine.batch.cluster.dask_client`).
    on_progress
        Called after each start and each recorded result, in this thread.
    stop
        Set it to stop: running tasks are cancelled and not recorded.
    memory_mb
        Each sandbox child's memory limit.

    Returns
    -------
    BatchOutcome

    Raises
    ------
    BatchError
        An unusable request.
    """
    batch = plan_batch(session, problem, request, client)
    plan = batch.plan
    recorded: dict[str, TaskResult] = dict(batch.results)
    resumed = len(recorded)
    todo = [t for t in plan.tasks if t.key not in recorded]
    inputs = {
        t.key: TaskInput(
            batch_id=plan.id,
            loop=plan.request.loop,
            task=t,
            frame=problem.data.iloc[task_rows(plan, t, problem.data)].reset_index(drop=True),
            contract=problem.contract,
            question=problem.question,
            gates=problem.gates,
            checks=plan.request.checks,
            memory_mb=memory_mb,
        )
        for t in todo
    }
    attempts: Counter[str] = Counter()
    running: set[str] = set()
    errors: list[str] = []
    began = time.perf_counter()

    def report(line: str, started: TaskStarted | None = None) -> None:
        if on_progress is None:
            return
        failed = sum(r.status is TaskStatus.FAILED for r in recorded.values())
        on_progress(
            BatchProgress(
                plan.id,
                len(plan.tasks),
                len(recorded),
                failed,
                len(running),
                resumed,
                time.perf_counter() - began,
                line,
                started,
            )
        )

    def on_start(event: TaskStarted) -> None:
        attempts[event.key] += 1
        running.add(event.key)
        again = f" (attempt {attempts[event.key]})" if attempts[event.key] > 1 else ""
        report(f"{event.key}: started on {event.worker}{again}", event)

    def on_result(key: str, result: TaskResult) -> None:
        running.discard(key)
        result = replace(result, attempt=max(1, attempts[key]))
        if store.record_result(session, plan, result) is not None:
            recorded[key] = result
        report(_line(result))

    def on_error(key: str, exc: BaseException) -> None:
        running.discard(key)
        kind = type(exc).__name__
        why = "its workers kept dying" if kind == "KilledWorker" else f"{kind}: {exc}"
        errors.append(f"{key}: {why}")
        report(f"{key}: not recorded ({why}); run the batch again to retry it")

    report(f"batch {plan.id}: {len(todo)} to run, {resumed} recorded before")
    finished = True
    if inputs:
        finished = stream(
            client,
            run_task,
            inputs,
            topic=STARTED_TOPIC,
            on_start=on_start,
            on_result=on_result,
            on_error=on_error,
            stop=stop,
        )
    final = store.load_batch(session, plan.id)
    if final is None:  # the plan was committed above; only a rewritten history loses it
        raise BatchError(f"batch {plan.id} disappeared from session {session.id} while it ran")
    return BatchOutcome(final, resumed, not finished, tuple(errors))


def _line(result: TaskResult) -> str:
    if result.effect is None:
        return f"{result.key}: failed — {result.reason}"
    e = result.effect
    retried = f", attempt {result.attempt}" if result.attempt > 1 else ""
    return (
        f"{result.key}: {e.estimand} {e.mean:.4g} [{e.hdi_low:.4g}, {e.hdi_high:.4g}] "
        f"({result.rating}, {result.seconds:.0f} s{retried})"
    )
