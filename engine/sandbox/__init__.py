"""Run untrusted code in a child process: time, memory and file limits, typed crash reports.

Agent-written model code never runs in the workbench's own process (which may be the TUI).
:func:`run_in_sandbox` runs a picklable, module-level function in a child process and returns
a :class:`SandboxOutcome`: the function's value, or a crash with its :class:`CrashKind`
(exception, timeout, memory, signal, exit, cancelled, protocol) and a message that says what
happened and what to do. The calling process survives anything the child does: exceptions,
``os._exit``, segfaults, endless loops, memory blow-ups, floods of progress messages.

Warm server
    Importing PyMC takes about five seconds and Numba's first JIT compile far longer, so jobs
    are forked from a warm *server* process (a zygote, like multiprocessing's forkserver but
    with its own environment, log and warm-up; Python 3.11's forkserver ignores the parent's
    ``sys.path``, re-imports ``__main__`` in every child and writes to the parent's
    terminal, which would scribble over the TUI): it imports :data:`PRELOAD_MODULES` once, calls
    each preloaded module's ``warm_sandbox()`` if it has one (the compile check primes PyTensor
    there), and optionally compiles a tiny model with nutpie so Numba's machinery is warm
    (``warm_up(jit=True)``). Every job is a *fresh fork* of that server, so nothing leaks
    from one job into the next, while imports and JIT warm-up are paid once.
    :func:`warm_up` starts it in the background; the first job waits for it if needed.

The outer wall: namespaces
    Where bubblewrap works (:mod:`~engine.sandbox.isolation`), the server and every job run in
    new user, mount, PID, network, IPC, UTS and cgroup namespaces with no capabilities: a
    read-only view of ``/usr``, Python, the venv and the ``engine`` package; no network; an
    allow-listed environment; no view of sessions, problem folders or ``truth.json``. Each job
    works in a fresh, randomly named folder of the server's (the only writable place); when it
    ends, the parent moves the regular files it was expected to write into ``workdir``.
    Without bubblewrap only the inner layers below remain, and :func:`isolation_report` says so.

Limits applied in the child before the function runs
    - its own process group, killed with the server (``PR_SET_PDEATHSIG``) and with the
      calling process (the server exits when its command socket closes);
    - memory: the parent polls the child's resident set size (``/proc/<pid>/status``, by its
      host pid) every 0.1 s and kills it above ``memory_mb``; ``RLIMIT_AS`` is set to the
      address space in use at fork + ``memory_mb`` + :data:`ADDRESS_SPACE_SLACK_MB`, so one huge
      allocation fails at once with ``MemoryError`` (measured: nutpie's sampler threads and
      allocator arenas reserve ~0.6 GB of address space they never touch);
    - ``RLIMIT_FSIZE`` (``max_file_mb``), no core dumps, niceness ``nice``;
    - the working directory is the job's own folder; stdout and stderr go to ``sandbox.log``
      there (the last lines come back in the outcome; faulthandler writes there on a segfault);
    - a private copy of the trusted compiler cache (:mod:`~engine.sandbox.cache`);
    - a seccomp filter (:mod:`~engine.sandbox.seccomp`): no fork or exec, no signals but to
      itself, no ptrace, no sockets but ``AF_UNIX``, no chmod or mounts;
    - PyTensor has no C compiler in the server (``cxx=``). Use ``mode="FAST_COMPILE"``,
      ``"NUMBA"`` or nutpie in jobs;
    - a Python audit hook (:func:`install_audit_hook`), installed right before the function
      runs, refuses: opening files for writing (and removing, renaming, linking, chmod) outside
      the job's folder; opening any file named ``truth.json``, even through a symlink; reading
      other processes' ``/proc`` entries; sockets, DNS look-ups; ``subprocess``, ``os.system``,
      ``os.exec*``, ``os.fork``, ``os.kill``; loading new shared libraries with ``ctypes``;
      opening SQLite files. Reading library files keeps working.

What this is not
    The namespaces share the host's kernel, and the inner layers are defence in depth: audit
    hooks see only what Python itself does (a C extension or a ctypes call into libc goes
    around them), and code that writes the interpreter's memory can defeat anything in its own
    process — which is why scores come from another process (:mod:`engine.scorer`). Without
    bubblewrap, files outside the job folder stay *readable*. Messages from the child are
    decoded with a restricted unpickler (plain values, NumPy arrays and scalars, ``engine``
    dataclasses and enums), so a child cannot run code in the parent through a crafted message.

Messages
    The function receives ``progress=`` as a keyword: ``progress({"draws": [10, 12], ...})``
    sends a small dict, or an instance of a dataclass defined in ``engine`` (at most
    :data:`MAX_PROGRESS_BYTES` pickled; it may be called from any thread), to ``on_progress`` in the
    parent, which calls it from the thread that called :func:`run_in_sandbox`. Treat messages
    as snapshots: with ``progress_interval_s > 0`` the parent delivers at most one per interval
    (the latest), and always the last one before returning. The return value must be small
    (at most :data:`MAX_RESULT_BYTES`); write large results (traces) to files in ``workdir``
    and return their paths.

Modules
    :mod:`~engine.sandbox.api` the public functions; :mod:`~engine.sandbox.outcome` the typed
    results; :mod:`~engine.sandbox.settings` limits and sizes; :mod:`~engine.sandbox.server`
    the parent's handle on the warm server; :mod:`~engine.sandbox.zygote` the server process;
    :mod:`~engine.sandbox.protocol` the messages between them and the restricted unpickler;
    :mod:`~engine.sandbox.child` the forked child and its limits; :mod:`~engine.sandbox.audit`
    the audit hook; :mod:`~engine.sandbox.watchdog` the parent watching one job and
    classifying its crash; :mod:`~engine.sandbox.observe` reading the child's RSS and log.
"""

from __future__ import annotations

from engine.sandbox.api import ping, run_in_sandbox, server_status, shutdown, wait_until_warm, warm_up
from engine.sandbox.audit import HIDDEN_FILE_NAMES, SandboxViolation, allowed_write_roots, install_audit_hook
from engine.sandbox.isolation import IsolationReport, Layer, isolation_report
from engine.sandbox.outcome import GATE_FILE, CrashKind, Gate, SandboxOutcome, ServerStatus
from engine.sandbox.outcome import _CancelLike as _CancelLike  # the compile check's cancel type
from engine.sandbox.protocol import _safe_loads as _safe_loads  # tests feed it hostile pickles
from engine.sandbox.server import _server_environ as _server_environ  # tests read the allow-list
from engine.sandbox.server import expose
from engine.sandbox.settings import (
    ADDRESS_SPACE_SLACK_MB,
    DEFAULT_MAX_FILE_MB,
    DEFAULT_MEMORY_MB,
    DEFAULT_NICE,
    EXIT_GRACE_S,
    JIT_IDLE_S,
    KILL_GRACE_S,
    LOG_NAME,
    MAX_PROGRESS_BYTES,
    MAX_RESULT_BYTES,
    PRELOAD_MODULES,
)
from engine.sandbox.zygote import _server_main as _server_main  # the spawn target, by this name

__all__ = [
    "ADDRESS_SPACE_SLACK_MB",
    "DEFAULT_MAX_FILE_MB",
    "DEFAULT_MEMORY_MB",
    "DEFAULT_NICE",
    "EXIT_GRACE_S",
    "HIDDEN_FILE_NAMES",
    "JIT_IDLE_S",
    "KILL_GRACE_S",
    "LOG_NAME",
    "MAX_PROGRESS_BYTES",
    "MAX_RESULT_BYTES",
    "PRELOAD_MODULES",
    "CrashKind",
    "GATE_FILE",
    "Gate",
    "SandboxOutcome",
    "SandboxViolation",
    "ServerStatus",
    "IsolationReport",
    "Layer",
    "allowed_write_roots",
    "expose",
    "isolation_report",
    "install_audit_hook",
    "ping",
    "run_in_sandbox",
    "server_status",
    "shutdown",
    "wait_until_warm",
    "warm_up",
]
