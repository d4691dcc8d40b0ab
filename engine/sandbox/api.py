"""The sandbox's public functions: run a function in a limited child, and manage the warm server."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.sandbox.observe import _read_rss_mb
from engine.sandbox.outcome import Gate, SandboxOutcome, ServerStatus, _CancelLike, folder_identity
from engine.sandbox.protocol import encode_call, encode_job
from engine.sandbox.server import _get_server
from engine.sandbox.settings import DEFAULT_MAX_FILE_MB, DEFAULT_MEMORY_MB, DEFAULT_NICE, LOG_NAME
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

    Parameters
    ----------
    timeout_s
        How long to wait; None waits for as long as the server is alive.
    jit
        Also ask for the JIT warm-up (see :func:`warm_up`) and wait for it.

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
    """Describe the warm server without starting it.

    Returns
    -------
    ServerStatus
        Whether it runs, is warm and JIT-warm, its pid, warm-up times, log and whether it is
        inside the namespaces.
    """
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
    inputs: Mapping[str, str | os.PathLike[str]] | None = None,
    keep_log: bool = True,
    outputs: Collection[str] | None = None,
    gate: Gate | None = None,
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
        Where the job's files end up (created if missing). The child itself works in a
        fresh, randomly named folder of the sandbox's own (the only place it may write);
        when the job ends, the regular files and folders it left there are moved into
        ``workdir`` (never symlinks, devices or its private cache), so the child never sees
        the session folder.
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
    inputs
        Regular files (not symlinks) copied into the job's folder before it starts, by name
        (the scorer's inputs).
    keep_log
        Move the job's ``sandbox.log`` into ``workdir`` too; False keeps an earlier job's log
        there (the outcome still carries this job's log tail).
    outputs
        The only top-level names moved into ``workdir`` (besides the log); None moves
        everything. Jobs that run agent code name what they are expected to write, so a
        hostile job cannot leave look-alike artefacts beside the history.
    gate
        Hold the job after its preparation until ``gate.open()`` (see :class:`Gate`): the
        timeout counts from the opening, ``gate.max_wait_s`` bounds the wait.
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
    server = _get_server()
    server.ensure_started()
    job_dir = server.new_job_dir()
    identity = folder_identity(job_dir)
    if gate is not None:
        gate.attach(job_dir)
    try:
        for name, source in (inputs or {}).items():
            if Path(source).is_symlink():
                raise ValueError(f"the sandbox input {source} is a symlink; pass the file itself")
            shutil.copyfile(source, job_dir / _plain_name(name))
        outcome = _run_job(
            server,
            fn,
            call,
            job_dir,
            t_call,
            timeout_s,
            memory_mb,
            on_progress,
            cancel,
            progress_interval_s,
            nice,
            max_file_mb,
            audit,
            start_timeout_s,
            gate,
        )
        if not keep_log:
            (job_dir / LOG_NAME).unlink(missing_ok=True)
        wanted = None if outputs is None else {*outputs, *([LOG_NAME] if keep_log else [])}
        # A job that swapped its folder for a link to a host folder would have us move files out of there.
        moved = collect_outputs(job_dir, work, wanted) if folder_identity(job_dir) == identity else set()
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)
    if outcome.log_path is not None:
        outcome = replace(outcome, log_path=str(work / LOG_NAME) if LOG_NAME in moved else None)
    elif LOG_NAME in moved:
        outcome = replace(outcome, log_path=str(work / LOG_NAME))
    return outcome


def _run_job(
    server,
    fn,
    call,
    job_dir,
    t_call,
    timeout_s,
    memory_mb,
    on_progress,
    cancel,
    progress_interval_s,
    nice,
    max_file_mb,
    audit,
    start_timeout_s,
    gate,
) -> SandboxOutcome:
    header = {
        "workdir": str(job_dir),
        "sys_path": list(sys.path),
        "memory_mb": int(memory_mb),
        "nice": int(nice),
        "max_file_mb": int(max_file_mb),
        "audit": bool(audit),
    }
    payload = encode_job(header, call)
    job = _JobRun(
        server,
        payload,
        t_call,
        job_dir,
        timeout_s,
        memory_mb,
        on_progress,
        cancel,
        progress_interval_s,
        start_timeout_s,
        gate,
    )
    return job.run()


def _plain_name(name: str) -> str:
    if not name or name != os.path.basename(name) or name in (".", ".."):
        raise ValueError(f"an input's name must be a plain file name, not {name!r}")
    return name


_PRIVATE_NAMES = frozenset({".cache", "tmp"})


def collect_outputs(job_dir: Path, workdir: Path, wanted: Collection[str] | None = None) -> set[str]:
    """Move what a finished job wrote into ``workdir``: regular files and folders only.

    Symlinks, devices, FIFOs and sockets the child may have planted are left behind (a link
    named ``trace.nc`` pointing at a host file would otherwise be read or written through by
    the parent), and so are the job's private cache and temp folder. Returns the top-level
    names moved.

    Parameters
    ----------
    job_dir
        The job's own folder.
    workdir
        The caller's work folder; an existing symlink there, or an entry of the other kind
        (file against folder), is never replaced.
    wanted
        The only top-level names to move; None for all.

    Returns
    -------
    set of str
    """
    moved: set[str] = set()
    for entry in os.scandir(job_dir):
        if entry.name in _PRIVATE_NAMES or (wanted is not None and entry.name not in wanted):
            continue
        if _move_tree(Path(entry.path), workdir / entry.name):
            moved.add(entry.name)
    return moved


def _move_tree(source: Path, target: Path) -> bool:
    info = os.lstat(source)
    if stat.S_ISREG(info.st_mode):
        if target.is_symlink() or target.is_dir():
            return False
        os.replace(source, target) if _same_device(source, target.parent) else shutil.copyfile(source, target)
        return True
    if stat.S_ISDIR(info.st_mode):
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            return False
        target.mkdir(exist_ok=True)
        for entry in os.scandir(source):
            _move_tree(Path(entry.path), target / entry.name)
        return True
    return False


def _same_device(a: Path, b: Path) -> bool:
    try:
        return os.lstat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


def ping(*, progress: Callable[[Any], None]) -> dict[str, Any]:
    """A job that does nothing: for health checks and start-latency measurements.

    Parameters
    ----------
    progress
        The sandbox's progress callback (unused).

    Returns
    -------
    dict
        The child's ``pid`` and resident set size ``rss_mb``.
    """
    return {"pid": os.getpid(), "rss_mb": _read_rss_mb(os.getpid())}
