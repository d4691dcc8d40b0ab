"""Batches in a session's history: ``batches/<id>/plan.json`` and ``batches/<id>/tasks/<key>.json``.

The plan is committed before the first task runs; each finished task is then one commit,
so a kill loses only the tasks that were running, and a resume reads the tree to know what
is done. A task's result is written once: a second finish of the same task (a lost worker's
task that ran twice) is not recorded again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TypeVar

from engine.batch.plan import BatchPlan
from engine.batch.results import TaskResult, TaskStatus
from engine.errors import SessionError
from engine.jsonable import from_dict, to_json
from engine.store.files import BATCHES_DIR
from engine.store.session import Session

T = TypeVar("T")
PLAN_FILE = "plan.json"
TASKS_DIR = "tasks"


@dataclass(frozen=True)
class StoredBatch:
    """A batch as its history holds it: the plan and the results recorded so far."""

    plan: BatchPlan
    results: dict[str, TaskResult]  # by task key

    @property
    def finished(self) -> bool:
        return all(t.key in self.results for t in self.plan.tasks)

    def ordered(self) -> list[TaskResult]:
        """The recorded results in the plan's order (levels, then settings).

        Returns
        -------
        list of TaskResult
        """
        return [self.results[t.key] for t in self.plan.tasks if t.key in self.results]


def task_file(batch_id: str, key: str) -> str:
    """``batches/<id>/tasks/<key>.json``, the key made safe for a file name (and unique by a short hash).

    Parameters
    ----------
    batch_id
        The batch's id.
    key
        The task's key.

    Returns
    -------
    str
        Relative to the session folder.
    """
    safe = "".join(c if c.isalnum() or c in "_-.=" else "_" for c in key)[:60]
    digest = hashlib.sha256(key.encode()).hexdigest()[:6]
    return f"{BATCHES_DIR}/{batch_id}/{TASKS_DIR}/{safe}-{digest}.json"


def save_plan(session: Session, plan: BatchPlan) -> str:
    """Commit the plan before any task runs.

    Parameters
    ----------
    session
        Open for writing.
    plan
        The batch's plan.

    Returns
    -------
    str
        The commit sha.
    """
    message = (
        f"batch {plan.id}: planned {len(plan.tasks)} task(s), {plan.request.describe}\n\n"
        f"Runs {plan.source_from}.\n" + "".join(f"Population: {p.rule}\n" for p in plan.populations)
    )
    return session.commit_batch_files({f"{BATCHES_DIR}/{plan.id}/{PLAN_FILE}": to_json(plan)}, message)


def record_result(session: Session, plan: BatchPlan, result: TaskResult) -> str | None:
    """Commit one task's result, unless that task is recorded already.

    Parameters
    ----------
    session
        Open for writing.
    plan
        The batch the task belongs to.
    result
        The task's result.

    Returns
    -------
    str or None
        The commit sha, or None when the task was recorded before (nothing is written twice).
    """
    path = task_file(plan.id, result.key)
    if path in session.files_under(f"{BATCHES_DIR}/{plan.id}/{TASKS_DIR}"):
        return None
    return session.commit_batch_files({path: to_json(result)}, _message(plan, result))


def _message(plan: BatchPlan, result: TaskResult) -> str:
    if result.status is TaskStatus.FAILED or result.effect is None:
        return f"batch {plan.id}: {result.key} failed\n\n{result.reason}\n"
    e = result.effect
    retried = f" (attempt {result.attempt}: its first worker was lost)" if result.attempt > 1 else ""
    return (
        f"batch {plan.id}: {result.key} → {e.estimand} {e.mean:.4g} [{e.hdi_low:.4g}, {e.hdi_high:.4g}]{retried}\n\n"
        f"{e.interval_name} on {result.n_units:,} units; {result.rating}: {result.reason}\n"
    )


def load_batch(session: Session, batch_id: str) -> StoredBatch | None:
    """A batch's plan and recorded results, or None when the session has no such batch.

    Parameters
    ----------
    session
        Any session (read-only is fine).
    batch_id
        The batch's id.

    Returns
    -------
    StoredBatch or None

    Raises
    ------
    SessionError
        When a committed file is not a plan or result this code can read.
    """
    folder = f"{BATCHES_DIR}/{batch_id}"
    files = session.files_under(folder)
    plan_path = f"{folder}/{PLAN_FILE}"
    if plan_path not in files:
        return None
    plan = _read(session, plan_path, BatchPlan)
    results = {}
    for path in files:
        if path.startswith(f"{folder}/{TASKS_DIR}/"):
            result = _read(session, path, TaskResult)
            results[result.key] = result
    return StoredBatch(plan, results)


def list_batches(session: Session) -> list[StoredBatch]:
    """Every batch of the session, oldest first.

    Parameters
    ----------
    session
        Any session.

    Returns
    -------
    list of StoredBatch
    """
    ids = sorted({p.split("/")[1] for p in session.files_under(BATCHES_DIR) if p.endswith(f"/{PLAN_FILE}")})
    batches = [b for b in (load_batch(session, i) for i in ids) if b is not None]
    return sorted(batches, key=lambda b: b.plan.created_at)


def _read(session: Session, path: str, cls: type[T]) -> T:
    try:
        return from_dict(cls, json.loads(session.file_at("HEAD", path)))
    except (ValueError, TypeError, KeyError) as exc:
        raise SessionError(f"session {session.id}: {path} is not a batch file this version can read ({exc})") from exc
