"""What a batch task returns, and what a running batch reports: small frozen dataclasses.

A task's result crosses from a Dask worker to the client as a pickle and is committed as
JSON (``batches/<id>/tasks/<key>.json``) by the client alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from engine.records import Effect


class TaskStatus(StrEnum):
    """How a task ended (a task that was stopped or lost is not recorded at all: a resume runs it)."""

    DONE = "done"  # an estimate, whatever its diagnostics say
    FAILED = "failed"  # the harness ran and the analysis could not produce an estimate (crash, timeout, memory)


@dataclass(frozen=True)
class Check:
    """One diagnostic or gate of a task, as its status and message."""

    name: str
    status: str  # pass | warn | fail | skipped (design); pass | fail (model gates)
    message: str


@dataclass(frozen=True)
class TaskResult:
    """One task's answer: the estimate with its interval, and how far to trust it."""

    key: str
    status: TaskStatus
    effect: Effect | None
    n_units: int
    rating: str  # design: the critic's tier; model: the verdict (passed the gates or failed_gate)
    credible: bool | None  # design: the sanity net; None for a model task
    reason: str  # one sentence: the critic's summary, the failed gate, the crash
    checks: tuple[Check, ...] = ()
    seconds: float = 0.0
    worker: str = ""
    attempt: int = 1  # set by the client: 2 when a lost worker's task ran again

    @property
    def satisfactory(self) -> bool:
        """Rated satisfactory by the critic (or passed every gate) and not flagged by the sanity net."""
        good = self.rating in ("fully_satisfactory", "satisfactory_with_caveats", "passed")
        return self.status is TaskStatus.DONE and good and self.credible is not False


@dataclass(frozen=True)
class TaskStarted:
    """A worker began a task (sent from the worker as it starts, so the client can count attempts)."""

    key: str
    worker: str
    pid: int


@dataclass(frozen=True)
class BatchProgress:
    """A running batch at a glance: counts, time, and the line worth printing."""

    batch_id: str
    total: int
    done: int  # recorded, this run or an earlier one
    failed: int  # recorded as failed
    running: int
    resumed: int  # recorded by an earlier run and skipped now
    elapsed_s: float
    line: str = ""
    started: TaskStarted | None = None  # set on the event that reports a start

    @property
    def eta_s(self) -> float | None:
        """Seconds left at this run's pace; None until a task of this run has finished."""
        finished = self.done - self.resumed
        if finished <= 0 or self.elapsed_s <= 0:
            return None
        return (self.total - self.done) * self.elapsed_s / finished
