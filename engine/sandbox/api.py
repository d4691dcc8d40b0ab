"""The sandbox's public functions: run a function in a limited child, and manage the warm server."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.sandbox.observe import _read_rss_mb
from engine.sandbox.outcome import SandboxOutcome, ServerStatus, _CancelLike
from engine.sandbox.protocol import encode_call, encode_job
from engine.sandbox.server import _get_server
from engine.sandbox.settings import DEFAULT_MAX_FILE_MB, DEFAULT_MEMORY_MB, DEFAULT_NICE
from engine.sandbox.watchdog import _JobRun


def warm_up(jit: bool = False, preload: tuple[str, ...] = ()) -> None:
    """Start the warm server in the background; return at once.

    Safe to call from any thread and more than once: a running server is reused.

    Parameters
    ----------
    jit
        Also compile a tiny model with nutpie in the server, so Numba's compiler is warm in
        every later job (measured here, machine under load: a nutpie compile of the IHDP
        baseline in a job took 21 s, then 12 s with a warm disk cache; with the JIT warm-up
        10 s, then 7 s). It starts once the server has been idle for :data:`JIT_IDLE_S`,
        takes 15–30 s of one core, and jobs submitted while it runs wait for it.
    preload
        Extra modules to import in the server (on top of :data:`PRELOAD_MODULES`); they
        apply when the server starts, so pass them on the first call.
    """
    server = _get_server()
    server.ensure_started(preload)
    if jit:
        server.request_jit()


def wait_until_warm(timeout_s: float | None = None, jit: bool = False) -> bool:
    """Block until the server has finished its warm-up (and the JIT warm-up if ``jit``).

    Returns
    -------
    bool
        False if it did not finish within ``timeout_s`` or the server failed to start.
    """
    server = _get_server()
    server.ensure_started()
    if jit:
        server.request_jit()
    return server.wait_ready(timeout_s, jit=jit)


def server_status() -> ServerStatus:
    """Describe the warm server without starting it."""
    return _get_server().status()


def shutdown() -> None:
    """Stop the warm server (running jobs are killed); the next job starts a fresh one."""
    _get_server().stop()


def run_in_sandbox(
    fn: Callable[..., Any],
    /,
    *args: Any,
    timeout_s: float,
    workdir: str | os.PathLike[str],
    memory_mb: int = DEFAULT_MEMORY_MB,
    on_progress: Callable[[Any], None] | None = None,
    cancel: _CancelLike | None = None,
    progress_interval_s: float = 0.05,
    nice: int = DEFAULT_NICE,
    max_file_mb: int = DEFAULT_MAX_FILE_MB,
    audit: bool = True,
    start_timeout_s: float = 300.0,
    **kwargs: Any,
) -> SandboxOutcome:
    """Run ``fn(*args, **kwargs, progress=...)`` in a fresh fork of the warm server.

    Blocks until the job ends; call it from a worker thread in a UI (any thread works).

    Parameters
    ----------
    fn
        A module-level function of an importable module (not ``__main__``, not a lambda),
        so the child can import it by name. It must accept a ``progress`` keyword argument:
        a callable that sends a small dict (or ``engine`` dataclass) to ``on_progress``.
    *args
        Positional arguments; they are pickled, so keep them small (data frames are fine).
    timeout_s
        Wall-clock budget from the moment the function starts in the child; on expiry the
        child is terminated (SIGTERM, then SIGKILL) and the outcome is ``timeout``.
    workdir
        The child's working folder (created if missing); the only place besides caches and
        the temp dir where it may write. Put it inside the session folder.
    memory_mb
        Resident-set limit, checked every 0.1 s; above it the child is killed (``memory``).
    on_progress
        Called with each progress dict the child sends, in the calling thread.
    cancel
        A :class:`threading.Event` (anything with ``is_set()``); when set, the child is
        terminated within about 0.1 s plus :data:`KILL_GRACE_S` and the outcome is
        ``cancelled``.
    progress_interval_s
        Deliver at most one progress message per interval (the latest); 0 delivers all.
    nice
        Niceness increment of the child.
    max_file_mb
        Largest file the child may write.
    audit
        Install the audit hook (see the module docstring). Switch it off only for jobs that
        run no agent-written code.
    start_timeout_s
        How long to wait for the warm server to come up (cold start, JIT warm-up).
    **kwargs
        Every other keyword argument goes to ``fn``. The names above belong to the runner:
        a function that needs its own ``workdir`` gets it under another name (the child
        already runs *in* ``workdir``, so ``Path.cwd()`` works too).

    Returns
    -------
    SandboxOutcome
        Never raises for anything the child does.

    Raises
    ------
    TypeError
        If ``fn`` or ``args`` cannot be pickled, or ``fn`` lives in ``__main__``.
    SandboxError
        If the warm server cannot be started at all (its log is named in the message).
    """
    t_call = time.monotonic()
    if getattr(fn, "__module__", None) == "__main__":
        raise TypeError(f"{fn.__qualname__} is defined in __main__; move it to an importable module")
    if "progress" in kwargs:
        raise TypeError("the runner passes progress= to the function itself; rename that argument")
    call = encode_call(fn, args, kwargs)
    work = Path(workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    header = {
        "workdir": str(work),
        "sys_path": list(sys.path),
        "memory_mb": int(memory_mb),
        "nice": int(nice),
        "max_file_mb": int(max_file_mb),
        "audit": bool(audit),
    }
    payload = encode_job(header, call)
    server = _get_server()
    job = _JobRun(
        server, payload, t_call, work, timeout_s, memory_mb, on_progress, cancel, progress_interval_s, start_timeout_s
    )
    return job.run()


def ping(*, progress: Callable[[Any], None]) -> dict[str, Any]:
    """A job that does nothing: for health checks and start-latency measurements."""
    return {"pid": os.getpid(), "rss_mb": _read_rss_mb(os.getpid())}
