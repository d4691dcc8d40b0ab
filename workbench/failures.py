"""The app's worker groups, and what the error dialog says when one fails: a title and a message.

User errors (:class:`engine.errors.WorkbenchError`) keep the engine's own words; anything
else is a bug and gets a short traceback.
"""

from __future__ import annotations

import traceback
from enum import StrEnum


class WorkerGroup(StrEnum):
    """Who does the app's slow work; one exclusive worker per group at a time."""

    OPEN = "open"  # open the problem or session
    AGENT = "agent"  # the agent proposes; the guard and the compile check run
    RUN = "run"  # the harness samples and scores, or records a rejection
    ARRAYS = "arrays"  # load an iteration's draws for the plots
    FILES = "files"  # read or commit a plan file
    EXPORT = "export"  # write the report
    BATCH = "batch"  # run a batch on a Dask cluster (runs beside everything else)
    BATCHES = "batches"  # read the session's batches for the batch screen
    STACK = "stack"  # stack the scored models for the home screen's best panel

    @property
    def failure_title(self) -> str:
        return {
            WorkerGroup.OPEN: "Could not open",
            WorkerGroup.AGENT: "The agent could not propose",
            WorkerGroup.RUN: "The run failed",
            WorkerGroup.FILES: "Not saved",
            WorkerGroup.EXPORT: "Export failed",
            WorkerGroup.ARRAYS: "Could not load the draws",
            WorkerGroup.BATCH: "The batch failed",
            WorkerGroup.BATCHES: "Could not read the batches",
            WorkerGroup.STACK: "Could not stack the models",
        }[self]

    @property
    def gates_keys(self) -> bool:
        """While a worker of this group runs, some keys cannot act (the footer greys them)."""
        return self in (WorkerGroup.OPEN, WorkerGroup.AGENT, WorkerGroup.RUN)


def describe_error(group: WorkerGroup, error: BaseException | None) -> tuple[str, str]:
    """A dialog title and message: the engine's own words for user errors, a traceback for bugs."""
    from engine.errors import WorkbenchError

    title = group.failure_title
    if isinstance(error, WorkbenchError):
        message = str(error)
    else:
        lines = traceback.format_exception(error, limit=-3) if error is not None else ["unknown error"]
        message = (
            f"{type(error).__name__}: {error}\n\nThis is a bug in the workbench; nothing recorded was lost "
            "and a pending proposal is still pending.\n\n" + "".join(lines)
        )
    if group is WorkerGroup.RUN:
        message += "\n\nThe proposal is still pending: review it again, or reject it."
    if group is WorkerGroup.BATCH:
        message += "\n\nTasks that finished are recorded; starting the same batch again resumes it."
    return title, message
