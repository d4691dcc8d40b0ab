"""Compile during review: the model child builds and compiles a proposal while the principal reads it.

The compile does not need the principal's decision; only sampling does. Once a proposal has
passed the guard and the compile check, :meth:`engine.loop.Workbench.prepare` starts the model child
(:func:`engine.jobs.sample_job`) behind a :class:`~engine.sandbox.Gate`: it builds the
model, compiles it with nutpie, reports :data:`~engine.progress.Phase.READY` and waits.
Approving opens the gate and sampling starts at once; rejecting, editing, skipping or a new
proposal discards the child. Everything runs in the same sandbox as an ordinary run, and a
prepared child that is never used is killed (with the app, at the latest: the sandbox server
dies with its parent).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.progress import Phase, RunProgress, SamplingProgress

if TYPE_CHECKING:
    from engine.sandbox import Gate, SandboxOutcome


@dataclass(frozen=True)
class PreparedKey:
    """What a prepared child was started for: a run may use it only if all of it still holds."""

    source: str
    number: int
    workdir: Path


class PreparedRun:
    """One model child waiting behind its gate, and the thread that waits for its outcome."""

    def __init__(self, key: PreparedKey, gate: Gate, on_status: Callable[[str], object] | None = None) -> None:
        self.key = key
        self.gate = gate
        self.ready = threading.Event()  # compiled and waiting for the gate
        self.compile_s: float | None = None
        self._discarded = threading.Event()
        self._cancel: threading.Event | None = None  # the run's own cancel, once approved
        self._forward: Callable[[RunProgress], None] | None = None
        self._on_status = on_status  # told "compiled, ready …" once the child waits
        self._outcome: SandboxOutcome | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()

    # -- what the sandbox sees ------------------------------------------------------------

    def is_set(self) -> bool:
        """The sandbox's cancel test: discarded, or the approved run was cancelled.

        Returns
        -------
        bool
            True once the child should be stopped.
        """
        return self._discarded.is_set() or (self._cancel is not None and self._cancel.is_set())

    @property
    def discarded(self) -> bool:
        return self._discarded.is_set()

    def progress(self, progress: RunProgress) -> None:
        if isinstance(progress, SamplingProgress) and progress.phase == Phase.READY:
            compile_s = progress.compile_s  # the child's word: a hostile one may send anything that type-checks
            if not (isinstance(compile_s, float) and math.isfinite(compile_s) and compile_s >= 0):
                return
            self.compile_s = compile_s
            self.ready.set()
            if self._on_status is not None:
                self._on_status(f"compiled, ready: approving starts sampling at once (compile {compile_s:.1f} s)")
            return
        if self._forward is not None:
            self._forward(progress)

    # -- what the loop does ---------------------------------------------------------------

    def run(self, job: Callable[[PreparedRun], SandboxOutcome]) -> None:
        """The waiting thread's body: the sandbox job, start to end."""
        try:
            self._outcome = job(self)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the outcome
            self._error = exc
        finally:
            self._done.set()

    def go(self, on_progress: Callable[[RunProgress], None] | None, cancel: threading.Event | None) -> SandboxOutcome:
        """Open the gate and wait for the child's outcome (approve → verdict, without a compile).

        Parameters
        ----------
        on_progress
            Receives the child's progress from now on.
        cancel
            The run's cancel event; setting it stops the child.

        Returns
        -------
        SandboxOutcome
            The model child's outcome.

        Raises
        ------
        BaseException
            Whatever the job raised in the waiting thread, raised again here.
        """
        self._forward, self._cancel = on_progress, cancel
        self.gate.open()
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._outcome is not None  # set whenever _done is set without an error
        return self._outcome

    def discard(self) -> None:
        """Kill the waiting child (rejected, edited, skipped, or a new proposal); returns at once."""
        self._discarded.set()

    def wait_closed(self, timeout_s: float) -> bool:
        """Until the child's job has ended (after :meth:`discard`, within the sandbox's kill grace).

        Parameters
        ----------
        timeout_s
            How long to wait.

        Returns
        -------
        bool
            True when the job has ended, False when the wait timed out.
        """
        return self._done.wait(timeout_s)
