"""The app's batch commands: start, follow, stop and list the session's Dask batches.

A mixin of :class:`workbench.app.WorkbenchApp` (Textual finds message handlers and actions
along the class's MRO), kept apart so the app module holds the iteration workflow and this one
the batches that run beside it. The batch itself runs in :mod:`engine.batch.run`; this module
only starts its worker, turns its progress into the header line and the batch screen, and stops it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from textual import work

from screens.messages import BatchesLoaded, BatchFinished, BatchProgressed
from workbench.failures import WorkerGroup

if TYPE_CHECKING:
    from textual.app import App

    from engine.batch.request import BatchRequest
    from engine.batch.results import BatchProgress
    from engine.loop import Workbench
    from screens.batch import ActiveBatch
    from workbench.opening import Opened

    _Base = App[int]
else:
    _Base = object


class BatchCommands(_Base):
    """Batch actions, workers and message handlers for the workbench app."""

    opened: Opened | None
    active_batch: ActiveBatch | None
    batch_workers: int | None
    _status_follows_batch: bool
    _quit_armed: bool

    if TYPE_CHECKING:  # the app's own helpers, which these commands call

        def _require_opened(self) -> Opened: ...
        def _workbench(self) -> Workbench: ...
        def _set_status(self, text: str, *, batch: bool = False) -> None: ...
        def _show_subtitle(self) -> None: ...

    @work(thread=True, exclusive=True, group=WorkerGroup.BATCH, exit_on_error=False, description="run a batch")
    def _run_batch(self, request: BatchRequest, stop: threading.Event) -> None:
        from engine.batch.cluster import dask_client
        from engine.batch.run import run_batch

        opened = self._require_opened()

        def progress(p: BatchProgress) -> None:
            self.post_message(BatchProgressed(p))

        _start_resource_tracker()
        with dask_client(workers=self.batch_workers) as client:
            outcome = run_batch(opened.session, opened.problem, request, client, on_progress=progress, stop=stop)
        self.post_message(BatchFinished(outcome))

    @work(thread=True, exclusive=True, group=WorkerGroup.BATCHES, exit_on_error=False, description="read batches")
    def _load_batches(self, select: str | None = None) -> None:
        from engine.batch.store import list_batches

        self.post_message(BatchesLoaded(list_batches(self._workbench().session), select))

    def on_batch_progressed(self, message: BatchProgressed) -> None:
        batch = self.active_batch
        if batch is None:
            return
        first = batch.progress is None  # the plan is committed: the batch screen moves to it, once
        if batch.receive(message.progress):  # ... and shows each task as it is recorded
            self._refresh_batches(message.progress.batch_id if first else None)
        self._show_batch_line()

    def on_batch_finished(self, message: BatchFinished) -> None:
        outcome = message.outcome
        plan = outcome.batch.plan
        self.active_batch = None
        self._quit_armed = False
        recorded = f"{len(outcome.batch.results)} of {len(plan.tasks)} tasks recorded"
        failed = sum(r.effect is None for r in outcome.batch.results.values())
        if outcome.stopped:
            text = f"batch {plan.id} stopped: {recorded}; starting the same batch again resumes it"
        else:
            text = f"batch {plan.id} finished: {recorded}" + (f", {failed} failed" if failed else "")
        if outcome.errors:
            text += f"; {len(outcome.errors)} not recorded ({outcome.errors[0]}); start it again to retry"
        self._set_status(text)
        self.notify(text, severity="warning" if outcome.errors or outcome.stopped else "information", timeout=10)
        self._show_batch_line()
        self._refresh_batches()
        self.refresh_bindings()

    def on_batches_loaded(self, message: BatchesLoaded) -> None:
        from screens.batch import BatchScreen

        for screen in self.screen_stack:
            if isinstance(screen, BatchScreen):
                screen.show_batches(message.batches, select=message.select)

    def _refresh_batches(self, select: str | None = None) -> None:
        """Read the batches again, only when a batch screen is there to show them."""
        from screens.batch import BatchScreen

        if any(isinstance(screen, BatchScreen) for screen in self.screen_stack):
            self._load_batches(select)

    def _show_batch_line(self) -> None:
        """The running batch's counts in the header (every screen) and on the batch screen."""
        from screens.batch import BatchScreen

        line = self.active_batch.line() if self.active_batch is not None else ""
        for screen in self.screen_stack:
            if isinstance(screen, BatchScreen):
                screen.show_status(line)
        if line and self._status_follows_batch:
            self._set_status(line, batch=True)
        self._show_subtitle()

    def action_batches(self) -> None:
        """The session's batches: each one's tasks and its effect along the partition or setting."""
        from screens.batch import BatchScreen

        if self.opened is None or isinstance(self.screen, BatchScreen):
            return
        line = self.active_batch.line() if self.active_batch is not None else ""
        self.push_screen(BatchScreen(status=line))
        self._load_batches(self.active_batch.batch_id if self.active_batch is not None else None)

    def action_start_batch(self) -> None:
        """Ask what to batch (checked before anything starts), then run it on a local Dask cluster."""
        from screens.start_batch import StartBatchDialog

        if self.opened is None:
            return
        if self.active_batch is not None:
            self.notify("A batch is already running: wait for it, or stop it (s on the batch screen).")
            return
        self.push_screen(StartBatchDialog(self.opened.problem), self._start_batch)

    def _start_batch(self, request: BatchRequest | None) -> None:
        from screens.batch import ActiveBatch

        if request is None or self.active_batch is not None:
            return
        batch = ActiveBatch(request)
        self.active_batch = batch
        self._show_batch_line()
        self._set_status(batch.line(), batch=True)
        self.refresh_bindings()
        self._run_batch(request, batch.stop)

    def action_stop_batch(self) -> None:
        """Stop the running batch: running tasks are cancelled and not recorded; a restart resumes it."""
        batch = self.active_batch
        if batch is None or batch.stop.is_set():
            return
        batch.stop.set()
        self._show_batch_line()
        self._set_status(batch.line(), batch=True)
        self.refresh_bindings()


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with the terminal's real stderr.

    Dask's worker processes need the tracker; starting it passes ``sys.stderr``'s file descriptor to
    the tracker's child, and inside the app ``sys.stderr`` is Textual's print capture, whose ``fileno()``
    is -1: the spawn fails ("Nanny failed to start"). Once running, the tracker serves every later batch.
    """
    import sys
    from multiprocessing import resource_tracker

    captured = sys.stderr
    sys.stderr = sys.__stderr__ if sys.__stderr__ is not None else captured
    try:
        resource_tracker.ensure_running()
    finally:
        sys.stderr = captured
