"""What a job produced (:class:`SandboxOutcome`, :class:`CrashKind`) and the warm server's state.

Frozen dataclasses and enums: the runner fills them in, the UI and the loop decide how they look.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol


class CrashKind(StrEnum):
    """Why a job produced no value."""

    EXCEPTION = "exception"  # the function raised
    TIMEOUT = "timeout"  # ran past its wall-clock budget and was killed
    MEMORY = "memory"  # exceeded its memory limit (killed, or MemoryError)
    SIGNAL = "signal"  # killed by a signal: segfault, abort, SIGKILL from outside
    EXIT = "exit"  # the process exited (sys.exit, os._exit) without returning
    CANCELLED = "cancelled"  # the caller set the cancel event
    PROTOCOL = "protocol"  # the child sent something the runner refuses, or the server died


@dataclass(frozen=True)
class SandboxOutcome:
    """What came back from one job.

    ``ok`` with ``value``, or a crash: ``crash`` says which kind and ``message`` says, in one
    or two sentences, what happened and what to do. For an exception, ``error_type``,
    ``error`` and ``traceback`` (the child's, trimmed) describe it.
    """

    ok: bool
    value: Any = None
    crash: CrashKind | None = None
    message: str = ""
    error_type: str | None = None
    error: str | None = None
    traceback: str | None = None
    exit_code: int | None = None  # negative: killed by that signal number
    seconds: float = 0.0  # from the call to the outcome
    start_latency_s: float | None = None  # from the call until the function started in the child
    peak_rss_mb: float | None = None
    log_path: str | None = None
    log_tail: str = ""

    def describe(self) -> str:
        """One line for a log or a table.

        Returns
        -------
        str
            ``ok in 1.23 s``, or the crash kind and its message.
        """
        if self.ok:
            return f"ok in {self.seconds:.2f} s"
        return f"{self.crash}: {self.message}"


class _CancelLike(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class ServerStatus:
    """State of the warm server, for the UI and benchmarks."""

    running: bool
    warm: bool
    jit_warm: bool
    pid: int | None
    warm_seconds: float | None  # imports + warm_sandbox() hooks, measured in the server
    jit_seconds: float | None
    log_path: str | None
    namespaced: bool = False  # the server runs inside bubblewrap's namespaces
    failed_preload: tuple[str, ...] = ()  # imports and warm_sandbox() hooks that raised (the job pays that cost)


def folder_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a real folder at ``path``, or None for anything else (a link, nothing).

    Parameters
    ----------
    path
        Where the folder should be.

    Returns
    -------
    tuple of int or None
        What identifies the folder while it stays the same folder.
    """
    import stat

    try:
        info = os.lstat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None


GATE_FILE = "GO"
"""The file a gated job waits for in its folder; the parent writes it when the gate opens."""


class Gate:
    """Holds a started job after its preparation until the parent opens it (compile during review).

    The job waits for :data:`GATE_FILE` in its folder. Until the gate opens, the run's
    timeout does not count (the principal is reading), but ``max_wait_s`` bounds the whole
    wait; from the opening on, the ordinary timeout applies. A job that does not wait
    (hostile code can start early) gains nothing: the parent reads nothing of it before the
    gate opens, and discards it when the proposal is not approved.
    """

    def __init__(self, max_wait_s: float = 3600.0) -> None:
        import threading

        self.max_wait_s = max_wait_s
        self.opened_at: float | None = None  # time.monotonic() of the opening
        self._job_dir: Path | None = None
        self._identity: tuple[int, int] | None = None  # (device, inode) of the job folder when it was made
        self._lock = threading.Lock()

    def attach(self, job_dir: Path) -> None:
        """The runner names the job's folder (before the job starts)."""
        with self._lock:
            self._job_dir = job_dir
            self._identity = folder_identity(job_dir)
            if self.opened_at is not None:
                self._write()

    def open(self) -> None:
        """Let the job go on; idempotent."""
        import time

        with self._lock:
            if self.opened_at is None:
                self.opened_at = time.monotonic()
                if self._job_dir is not None:
                    self._write()

    def _write(self) -> None:
        """Create the file without following anything the job planted there (a symlink to a host file)."""
        assert self._job_dir is not None
        if folder_identity(self._job_dir) != self._identity:
            return  # the job swapped its folder for something else (a link to a host folder): write nothing
        try:
            os.close(os.open(self._job_dir / GATE_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o644))
        except FileExistsError:
            pass  # the job made one itself: it went early, and nothing of it is read before the opening
