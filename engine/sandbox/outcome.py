"""What a job produced (:class:`SandboxOutcome`, :class:`CrashKind`) and the warm server's state.

Frozen dataclasses and enums: the runner fills them in, the UI and the loop decide how they look.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
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
