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

Limits applied in the child before the function runs
    - its own process group, killed with the server (``PR_SET_PDEATHSIG``) and with the
      calling process (the server exits when its command socket closes);
    - memory: the parent polls the child's resident set size (``/proc/<pid>/status``) every
      0.1 s and kills it above ``memory_mb``; ``RLIMIT_AS`` is set to the address space in
      use at fork + ``memory_mb`` + :data:`ADDRESS_SPACE_SLACK_MB`, so one huge allocation fails
      at once with ``MemoryError`` (measured: nutpie's sampler threads and allocator arenas
      reserve ~0.6 GB of address space they never touch; Numba/LLVM JIT works under it);
    - ``RLIMIT_FSIZE`` (``max_file_mb``), no core dumps, niceness ``nice``;
    - the working directory is ``workdir``; stdout and stderr go to ``workdir/sandbox.log``
      (the last lines come back in the outcome; faulthandler writes there on a segfault);
    - environment variables that look like secrets (``*KEY*``, ``*TOKEN*``, ``*SECRET*``, …)
      are removed before the server starts;
    - PyTensor has no C compiler in the server (``cxx=``): with the audit hook below it could
      not run ``g++`` anyway. Use ``mode="FAST_COMPILE"``, ``"NUMBA"`` or nutpie in jobs;
    - a Python audit hook (:func:`install_audit_hook`), installed right before the function
      runs, refuses: opening files for writing (and removing, renaming, linking, chmod) outside
      ``workdir``, the system temp dir, PyTensor's ``base_compiledir`` and the Numba cache dir;
      opening any file named ``truth.json`` (the ground truth stays hidden), even through a
      symlink; reading other processes' ``/proc`` entries; creating sockets, DNS look-ups;
      ``subprocess``, ``os.system``, ``os.exec*``, ``os.fork``, ``os.kill``; loading new shared
      libraries with ``ctypes``; opening SQLite files. Reading library files keeps working.

What this is not
    This is defence in depth *behind* the static guard (the AST scan that rejects imports
    outside the allow-list, file and process access and dunder tricks), not a container.
    Audit hooks see only what Python itself does: a C extension that opens files or sockets
    on its own (HDF5, netCDF, a ctypes call into libc) is invisible to them, and code that
    deliberately tampers with the interpreter (ctypes memory writes, patching the modules the
    hook uses) can defeat them. There is no filesystem or network namespace: files outside
    the work folder stay *readable*. Messages from the child are decoded with a restricted
    unpickler (plain values, NumPy arrays and scalars, ``engine`` dataclasses and enums), so a
    child cannot run code in the parent through a crafted message. For hostile code, run the
    workbench itself inside a container or VM.

Messages
    The function receives ``progress=`` as a keyword: ``progress({"draws": [10, 12], ...})``
    sends a small dict, or an instance of a dataclass defined in ``engine`` (at most
    :data:`MAX_PROGRESS_BYTES` pickled; it may be called from any thread), to ``on_progress`` in the
    parent, which calls it from the thread that called :func:`run_in_sandbox`. Treat messages
    as snapshots: with ``progress_interval_s > 0`` the parent delivers at most one per interval
    (the latest), and always the last one before returning. The return value must be small
    (at most :data:`MAX_RESULT_BYTES`); write large results (traces) to files in ``workdir``
    and return their paths.
"""

from __future__ import annotations

import atexit
import dataclasses
import gc
import os
import pickle
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback as tb_module
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Protocol

from engine.errors import SandboxError

PRELOAD_MODULES: tuple[str, ...] = (
    "numpy",
    "pandas",
    "scipy.special",
    "pytensor",
    "pytensor.tensor",
    "pymc",
    "nutpie",
    "arviz",
    "engine.problem",
    "engine.records",
    "engine.compile_check",
)
"""Imported once by the warm server; a module's ``warm_sandbox()`` is then called if defined."""

DEFAULT_MEMORY_MB = 4096
"""Resident-set limit of a job; the warm server's shared imports (~0.4–0.5 GB) count too."""
ADDRESS_SPACE_SLACK_MB = 1024
"""Address space a job may reserve beyond ``memory_mb`` (thread stacks, allocator arenas)."""
DEFAULT_NICE = 5
"""Niceness increment of a job, so the UI stays responsive while a model samples."""
DEFAULT_MAX_FILE_MB = 1024
"""Largest file a job may write (``RLIMIT_FSIZE``); a bigger write kills it with SIGXFSZ."""
KILL_GRACE_S = 1.0
"""Time between SIGTERM and SIGKILL when a job is cancelled or runs out of time."""
EXIT_GRACE_S = 3.0
"""Time a job may take to exit after it sent its result, before it is killed."""
JIT_IDLE_S = 2.0
"""The server starts a requested JIT warm-up only after this long without commands, so the
first jobs of a session are not queued behind it."""
MAX_PROGRESS_BYTES = 64 * 1024
MAX_RESULT_BYTES = 16 * 1024 * 1024
LOG_NAME = "sandbox.log"
_POLL_S = 0.1
_LOG_TAIL_LINES = 30
_SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")


# --------------------------------------------------------------------------- results


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
        """One line for a log or a table."""
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


# --------------------------------------------------------------------------- public API


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
    try:
        job_blob = pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # pickling raises many types: PicklingError, TypeError, AttributeError
        raise TypeError(f"cannot send the job to the sandbox: {exc}; pass a module-level function and picklable args") from exc
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
    payload = pickle.dumps((header, job_blob), protocol=pickle.HIGHEST_PROTOCOL)
    server = _get_server()
    job = _JobRun(
        server, payload, t_call, work, timeout_s, memory_mb, on_progress, cancel, progress_interval_s, start_timeout_s
    )
    return job.run()


def ping(*, progress: Callable[[Any], None]) -> dict[str, Any]:
    """A job that does nothing: for health checks and start-latency measurements."""
    return {"pid": os.getpid(), "rss_mb": _read_rss_mb(os.getpid())}


# --------------------------------------------------------------------------- parent: server


class _Server:
    """The parent's handle on the warm server process (one per parent process)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._send_lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._cmd: socket.socket | None = None
        self._ready = threading.Event()
        self._jit_done = threading.Event()
        self._dead = threading.Event()
        self._jit_requested = False
        self._info: dict[str, Any] = {}
        self._dir: str | None = None
        self._preload: tuple[str, ...] = PRELOAD_MODULES

    # -- lifecycle

    def ensure_started(self, preload: tuple[str, ...] = ()) -> None:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None and not self._dead.is_set():
                return
            self._cleanup_locked()
            extra = tuple(m for m in preload if m not in self._preload)
            self._preload = self._preload + extra
            self._dir = tempfile.mkdtemp(prefix="workbench-sandbox-")
            log_path = os.path.join(self._dir, "server.log")
            parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            root = str(Path(__file__).resolve().parents[2])
            env = _server_environ(os.environ, root)
            code = "from engine.sandbox.watchdog import _server_main; _server_main()"
            args = [sys.executable, "-c", code, str(child_end.fileno()), ",".join(self._preload), self._dir]
            try:
                with open(log_path, "wb") as log:
                    self._proc = subprocess.Popen(
                        args,
                        pass_fds=[child_end.fileno()],
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                        start_new_session=True,  # a Ctrl-C in the terminal is the parent's to handle
                    )
            except OSError as exc:
                parent_end.close()
                raise SandboxError(f"cannot start the sandbox server ({exc}); check that {sys.executable} runs") from exc
            finally:
                child_end.close()
            self._cmd = parent_end
            self._ready = threading.Event()
            self._jit_done = threading.Event()
            self._dead = threading.Event()
            self._jit_requested = False
            self._info = {"log_path": log_path}
            threading.Thread(
                target=self._watch, args=(parent_end, self._ready, self._jit_done, self._dead), name="sandbox-server-watch", daemon=True
            ).start()

    def _watch(self, cmd: socket.socket, ready: threading.Event, jit: threading.Event, dead: threading.Event) -> None:
        """Read the server's announcements; notice when it dies."""
        conn = Connection(os.dup(cmd.fileno()), writable=False)
        try:
            while True:
                message = pickle.loads(conn.recv_bytes())  # the server runs only our code
                if message.get("event") == "ready":
                    self._info["warm_seconds"] = message.get("seconds")
                    self._info["failed_preload"] = message.get("failed", [])
                    ready.set()
                elif message.get("event") == "jit":
                    self._info["jit_seconds"] = message.get("seconds")
                    jit.set()
        except (EOFError, OSError):
            pass
        finally:
            conn.close()
            dead.set()

    def wait_ready(self, timeout_s: float | None, jit: bool = False, cancel: _CancelLike | None = None) -> bool:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        target = self._jit_done if jit else self._ready
        while not target.is_set():
            if self._dead.is_set() or (cancel is not None and cancel.is_set()):
                return False
            if deadline is not None and time.monotonic() >= deadline:
                return False
            target.wait(_POLL_S)
        return True

    def request_jit(self) -> None:
        with self._lock:
            if self._jit_requested:
                return
            self._jit_requested = True
            self._send(b"W", [])

    def stop(self) -> None:
        with self._lock:
            self._cleanup_locked()

    def _cleanup_locked(self) -> None:
        if self._cmd is not None:
            try:
                self._cmd.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._cmd.close()
            self._cmd = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)  # the server removes it too when it sees EOF
            self._dir = None

    # -- jobs

    def _send(self, opcode: bytes, fds: list[int]) -> None:
        with self._send_lock:
            cmd = self._cmd
            if cmd is None:
                raise SandboxError("the sandbox server is not running")
            socket.send_fds(cmd, [opcode], fds)

    def submit(self, payload: bytes, keep_going: Callable[[], bool]) -> tuple[Connection, Connection] | None:
        """Hand a job to the server; return (control, messages), or None if ``keep_going`` said stop.

        The payload is written in chunks so a cancel is honoured even while the server is
        busy (a JIT warm-up) and not reading.
        """
        ctl_parent, ctl_server = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        msg_r, msg_w = os.pipe()
        try:
            self._send(b"J", [ctl_server.fileno(), msg_w])
        except OSError as exc:
            ctl_parent.close()
            os.close(msg_r)
            raise SandboxError(f"cannot reach the sandbox server: {exc}") from exc
        finally:
            ctl_server.close()
            os.close(msg_w)
        # The framing of multiprocessing.connection.Connection.send_bytes (payloads < 2 GiB).
        frame = memoryview(struct.pack("!i", len(payload)) + payload)
        ctl_parent.settimeout(_POLL_S)
        try:
            while frame:
                try:
                    frame = frame[ctl_parent.send(frame[: 1 << 20]) :]
                except TimeoutError:
                    if not keep_going():
                        ctl_parent.close()
                        os.close(msg_r)
                        return None
        except OSError as exc:
            ctl_parent.close()
            os.close(msg_r)
            raise SandboxError(f"cannot send the job to the sandbox server: {exc}") from exc
        ctl_parent.settimeout(None)
        return Connection(ctl_parent.detach()), Connection(msg_r, writable=False)

    def log_tail(self) -> str:
        path = self._info.get("log_path")
        return _read_tail(Path(path)) if path else ""

    def status(self) -> ServerStatus:
        proc = self._proc
        running = proc is not None and proc.poll() is None and not self._dead.is_set()
        return ServerStatus(
            running=running,
            warm=running and self._ready.is_set(),
            jit_warm=running and self._jit_done.is_set(),
            pid=proc.pid if running and proc else None,
            warm_seconds=self._info.get("warm_seconds"),
            jit_seconds=self._info.get("jit_seconds"),
            log_path=self._info.get("log_path"),
        )


_SERVER: _Server | None = None
_SERVER_LOCK = threading.Lock()


def _get_server() -> _Server:
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is None:
            _SERVER = _Server()
            atexit.register(_SERVER.stop)
        return _SERVER


def _server_environ(environ: Mapping[str, str], root: str) -> dict[str, str]:
    """The server's environment: no secrets, engine importable, PyTensor without a C compiler."""
    env = {k: v for k, v in environ.items() if not any(marker in k.upper() for marker in _SECRET_MARKERS)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    flags = env.get("PYTENSOR_FLAGS", "")
    env["PYTENSOR_FLAGS"] = f"{flags},cxx=" if flags else "cxx="
    if "NUMBA_CACHE_DIR" not in env:
        cache_home = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        env["NUMBA_CACHE_DIR"] = os.path.join(cache_home, "causal-workbench", "numba")
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return env


# --------------------------------------------------------------------------- parent: one job


class _JobRun:
    """The parent's side of one job: submit, watch, enforce limits, build the outcome."""

    def __init__(
        self,
        server: _Server,
        payload: bytes,
        t_call: float,
        workdir: Path,
        timeout_s: float,
        memory_mb: int,
        on_progress: Callable[[Any], None] | None,
        cancel: _CancelLike | None,
        progress_interval_s: float,
        start_timeout_s: float,
    ) -> None:
        self.server = server
        self.payload = payload
        self.t_call = t_call
        self.workdir = workdir
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.on_progress = on_progress
        self.cancel = cancel
        self.interval = progress_interval_s
        self.start_timeout_s = start_timeout_s
        self.pid: int | None = None
        self.exit_code: int | None = None
        self.server_lost = False
        self.started_at: float | None = None
        self.start_latency: float | None = None
        self.result: tuple[str, Any] | None = None  # ("result", value) or ("error", info)
        self.result_at: float | None = None
        self.stop_reason: CrashKind | None = None
        self.term_at: float | None = None
        self.killed = False
        self.peak_rss_mb: float | None = None
        self.protocol_error: str | None = None
        self.pending: Any = None
        self.last_delivery = 0.0

    # -- main loop

    def run(self) -> SandboxOutcome:
        self.server.ensure_started()
        if not self.server.wait_ready(self.start_timeout_s, cancel=self.cancel):
            if self.cancel is not None and self.cancel.is_set():
                return self._outcome(CrashKind.CANCELLED, "cancelled before the sandbox server was ready")
            if self.server._dead.is_set():
                raise SandboxError(
                    "the sandbox server stopped while starting; its log says:\n" + self.server.log_tail()
                )
            raise SandboxError(f"the sandbox server was not ready after {self.start_timeout_s:g} s; try again")
        channels = self.server.submit(self.payload, self._keep_going)
        if channels is None:
            return self._build_outcome()
        ctl, msg = channels
        self.ctl, self.msg = ctl, msg
        msg_open = True
        ctl_open = True
        try:
            while True:
                self._enforce_limits()
                if self.pid is None and self.stop_reason is not None:
                    break  # not forked yet (the server is busy): closing the channel withdraws the job
                if not ctl_open and not msg_open:
                    break
                if not ctl_open and self.exit_code is None:
                    break  # server lost: the child died with it (PR_SET_PDEATHSIG)
                if self.exit_code is not None and not msg_open:
                    break
                ready = wait([c for c, o in ((msg, msg_open), (ctl, ctl_open)) if o], timeout=self._wait_time())
                if msg in ready:
                    msg_open = self._drain_messages(msg)
                if ctl in ready:
                    ctl_open = self._read_control(ctl)
                    if self.exit_code is not None and msg_open:
                        # The child is gone; take what it left in the pipe, then stop.
                        while msg_open and msg.poll(0):
                            msg_open = self._drain_messages(msg)
                        msg_open = False
                self._deliver_pending(force=False)
            self._deliver_pending(force=True)
        finally:
            if self.exit_code is None and ctl_open and self.pid is not None:
                self._signal(signal.SIGKILL)
            ctl.close()
            msg.close()
        return self._build_outcome()

    def _keep_going(self) -> bool:
        """While handing the job over: False once cancelled or past the start timeout."""
        if self.cancel is not None and self.cancel.is_set():
            self.stop_reason = CrashKind.CANCELLED
        elif time.monotonic() - self.t_call > self.start_timeout_s:
            self.stop_reason = CrashKind.TIMEOUT
        return self.stop_reason is None

    def _wait_time(self) -> float:
        waits = [_POLL_S]
        if self.pending is not None and self.interval > 0:
            waits.append(max(0.0, self.last_delivery + self.interval - time.monotonic()))
        return min(waits)

    def _enforce_limits(self) -> None:
        now = time.monotonic()
        if self.pid is None or self.exit_code is not None:
            if self.pid is None and self.cancel is not None and self.cancel.is_set() and self.stop_reason is None:
                self.stop_reason = CrashKind.CANCELLED  # killed as soon as its pid arrives
            if self.pid is None and now - self.t_call > self.start_timeout_s and self.stop_reason is None:
                self.stop_reason = CrashKind.TIMEOUT
            return
        if self.result is not None:
            if self.result_at is not None and now - self.result_at > EXIT_GRACE_S and not self.killed:
                self._signal(signal.SIGKILL)
            return
        rss = _read_rss_mb(self.pid)
        if rss is not None:
            self.peak_rss_mb = max(self.peak_rss_mb or 0.0, rss)
            if rss > self.memory_mb and not self.killed:
                self.stop_reason = self.stop_reason or CrashKind.MEMORY
                self._signal(signal.SIGKILL)
                return
        if self.stop_reason is None:
            if self.cancel is not None and self.cancel.is_set():
                self.stop_reason = CrashKind.CANCELLED
            elif self.started_at is not None and now - self.started_at > self.timeout_s:
                self.stop_reason = CrashKind.TIMEOUT
            elif self.started_at is None and now - self.t_call > self.start_timeout_s:
                self.stop_reason = CrashKind.TIMEOUT
        if self.stop_reason is not None and self.term_at is None:
            self.term_at = now
            self._signal(signal.SIGTERM)
        elif self.term_at is not None and now - self.term_at > KILL_GRACE_S and not self.killed:
            self._signal(signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> None:
        if sig == signal.SIGKILL:
            self.killed = True
        try:
            self.ctl.send_bytes(b"K" if sig == signal.SIGKILL else b"T")
        except OSError:  # the server is gone; signal the group ourselves
            if self.pid is not None:
                try:
                    os.killpg(self.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass

    def _read_control(self, ctl: Connection) -> bool:
        try:
            data = ctl.recv_bytes(64)
        except (EOFError, OSError):
            if self.exit_code is None:
                self.server_lost = True
            return False
        kind, value = data[:1], struct.unpack("q", data[1:9])[0]
        if kind == b"P":
            self.pid = value
            if self.stop_reason is not None:  # cancelled or timed out while it was being forked
                self._signal(signal.SIGKILL)
        elif kind == b"X":
            self.exit_code = value
            return False
        return True

    def _drain_messages(self, msg: Connection) -> bool:
        """Read what the child sent (bounded per call, so a flood cannot starve the limits)."""
        for _ in range(1000):
            try:
                data = msg.recv_bytes(MAX_RESULT_BYTES + 1024)
            except (EOFError, OSError) as exc:
                if isinstance(exc, OSError) and "bad message length" in str(exc) and self.protocol_error is None:
                    self.protocol_error = f"a message longer than {MAX_RESULT_BYTES // 2**20} MiB"
                    self.stop_reason = self.stop_reason or CrashKind.PROTOCOL
                    self._signal(signal.SIGKILL)
                return False
            self._handle(data)
            if not msg.poll(0):
                break
        return True

    def _handle(self, data: bytes) -> None:
        try:
            kind, body = _safe_loads(data)
        except Exception as exc:  # noqa: BLE001 - anything the child sends is untrusted
            if self.protocol_error is None:
                self.protocol_error = str(exc)
            if self.result is None and self.stop_reason is None:
                self.stop_reason = CrashKind.PROTOCOL
                self._signal(signal.SIGKILL)
            return
        if kind == "started" and self.started_at is None:
            self.started_at = time.monotonic()
            self.start_latency = self.started_at - self.t_call
        elif kind == "progress" and (isinstance(body, dict) or dataclasses.is_dataclass(body)):
            self.pending = body
            if self.interval <= 0:
                self._deliver_pending(force=True)  # every message, in order
        elif kind in ("result", "error") and self.result is None:
            self.result = (kind, body)
            self.result_at = time.monotonic()

    def _deliver_pending(self, force: bool) -> None:
        if self.pending is None or self.on_progress is None:
            return
        now = time.monotonic()
        if force or self.interval <= 0 or now - self.last_delivery >= self.interval:
            message, self.pending = self.pending, None
            self.last_delivery = now
            self.on_progress(message)

    # -- outcome

    def _build_outcome(self) -> SandboxOutcome:
        code = self.exit_code
        if self.result is not None:
            kind, body = self.result
            if kind == "result":
                return self._outcome(None, "", value=body)
            info = body if isinstance(body, dict) else {}
            error_type = str(info.get("type", "Exception"))
            error = str(info.get("message", ""))
            if info.get("memory"):
                return self._outcome(
                    CrashKind.MEMORY,
                    f"the job ran out of memory ({error_type}: {error}) under its {self.memory_mb} MB limit; "
                    "make the model smaller or raise the memory limit",
                    error_type=error_type,
                    error=error,
                    traceback=info.get("traceback"),
                )
            where = info.get("where", "")
            return self._outcome(
                CrashKind.EXCEPTION,
                f"{where}raised {error_type}: {_first_line(error)}; see the traceback",
                error_type=error_type,
                error=error,
                traceback=info.get("traceback"),
            )
        reason = self.stop_reason
        if reason is CrashKind.CANCELLED:
            return self._outcome(reason, "cancelled: the job was stopped before it finished; nothing it did was kept")
        if reason is CrashKind.TIMEOUT:
            if self.started_at is None:
                return self._outcome(reason, f"the job did not start within {self.start_timeout_s:g} s; the sandbox server may be overloaded")
            return self._outcome(
                reason,
                f"the job ran longer than its {self.timeout_s:g} s budget and was stopped; "
                "look for loops that never end or work that grows with the data, or raise the time budget",
            )
        if reason is CrashKind.MEMORY:
            peak = f"{self.peak_rss_mb:.0f} MB" if self.peak_rss_mb else "more"
            return self._outcome(
                reason,
                f"the job used {peak}, over its {self.memory_mb} MB memory limit, and was stopped; "
                "make the model smaller (fewer parameters, no large intermediate arrays) or raise the limit",
            )
        if reason is CrashKind.PROTOCOL:
            return self._outcome(
                reason,
                f"the job sent a message the runner refuses ({self.protocol_error}); "
                "return small plain values and write large results to files in the work folder",
            )
        if self.server_lost:
            return self._outcome(
                CrashKind.PROTOCOL,
                "the sandbox server stopped while the job ran, taking the job with it; run it again "
                "(the server restarts by itself)",
            )
        if code is not None and code < 0:
            return self._outcome(CrashKind.SIGNAL, _signal_message(-code, self.peak_rss_mb, self.memory_mb))
        return self._outcome(
            CrashKind.EXIT,
            f"the job's process exited with status {code} without returning a result "
            "(sys.exit or os._exit in the code?); remove the exit call",
        )

    def _outcome(self, crash: CrashKind | None, message: str, value: Any = None, **fields: Any) -> SandboxOutcome:
        log = self.workdir / LOG_NAME
        return SandboxOutcome(
            ok=crash is None,
            value=value,
            crash=crash,
            message=message,
            exit_code=self.exit_code,
            seconds=time.monotonic() - self.t_call,
            start_latency_s=self.start_latency,
            peak_rss_mb=self.peak_rss_mb,
            log_path=str(log) if log.exists() else None,
            log_tail="" if crash is None else _read_tail(log),
            **fields,
        )


def _signal_message(signum: int, peak_rss_mb: float | None, memory_mb: int) -> str:
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    near_limit = peak_rss_mb is not None and peak_rss_mb > 0.8 * memory_mb
    what = {
        "SIGSEGV": "a segmentation fault: compiled code (a C extension, ctypes or Numba) read invalid memory",
        "SIGBUS": "a bus error in compiled code",
        "SIGABRT": "an abort in compiled code, often an allocation that failed",
        "SIGFPE": "a floating-point exception in compiled code",
        "SIGILL": "an illegal instruction in compiled code",
        "SIGKILL": "SIGKILL from outside the runner (the system's out-of-memory killer, or a person)",
        "SIGXFSZ": "the file size limit: it wrote a file larger than allowed",
        "SIGXCPU": "the CPU time limit",
        "SIGTERM": "SIGTERM from outside the runner",
    }.get(name, "a signal")
    advice = (
        "it was close to its memory limit, so raise the limit or shrink the model"
        if near_limit
        else "see the log tail; simplify the model code around the last step it logged"
    )
    return f"the job's process was killed by {name} ({what}); {advice}"


def _read_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _read_tail(path: Path, lines: int = _LOG_TAIL_LINES, max_bytes: int = 8192) -> str:
    """The end of a log the child wrote (not following symlinks it may have planted)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - max_bytes))
        text = fh.read().decode("utf-8", "replace")
    kept = [line for line in text.splitlines() if not line.startswith("Extension modules:")]  # faulthandler's list
    return "\n".join(kept[-lines:])


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


# --------------------------------------------------------------------------- restricted unpickling

_SAFE_BUILTINS = frozenset(
    {"dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray", "int", "float", "complex", "bool", "slice", "range"}
)
_SAFE_GLOBALS = frozenset(
    {
        ("collections", "OrderedDict"),
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("pathlib", "PosixPath"),
        ("pathlib", "PurePosixPath"),
        ("pathlib", "Path"),
        ("copyreg", "_reconstructor"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
    }
)


class _SafeUnpickler(pickle.Unpickler):
    """Only plain values, NumPy arrays and ``engine`` dataclasses and enums; nothing callable."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        if module.startswith("engine.") and "." not in name:
            obj = super().find_class(module, name)
            if isinstance(obj, type) and (dataclasses.is_dataclass(obj) or issubclass(obj, Enum)):
                return obj
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a sandbox message")


def _safe_loads(data: bytes) -> tuple[str, Any]:
    import io

    message = _SafeUnpickler(io.BytesIO(data)).load()
    if not (isinstance(message, tuple) and len(message) == 2 and isinstance(message[0], str)):
        raise pickle.UnpicklingError("a sandbox message must be a (kind, body) pair")
    return message


# --------------------------------------------------------------------------- server process


def _server_main() -> None:
    """Entry point of the warm server (``python -c`` in a new session); never returns."""
    cmd_fd = int(sys.argv[1])
    preload = [m for m in sys.argv[2].split(",") if m]
    own_dir = sys.argv[3]
    cmd = socket.socket(fileno=cmd_fd)
    announce = Connection(os.dup(cmd_fd), readable=False)
    jobs: dict[int, Connection] = {}  # pid -> control connection to the parent

    def finish() -> None:
        """The parent is gone: take every job with it, remove the server's folder, exit."""
        for pid in list(jobs):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        for name in ("server.log",):
            try:
                os.unlink(os.path.join(own_dir, name))
            except OSError:
                pass
        try:
            os.rmdir(own_dir)
        except OSError:
            pass
        os._exit(0)

    t0 = time.monotonic()
    failed = _preload(preload)
    prctl = _libc_prctl()
    gc.freeze()  # keep the collector off the preloaded objects, so forks share their pages
    print(f"sandbox server {os.getpid()} ready in {time.monotonic() - t0:.1f} s; failed preloads: {failed}", flush=True)
    try:
        announce.send_bytes(pickle.dumps({"event": "ready", "seconds": time.monotonic() - t0, "failed": failed}))
    except OSError:
        finish()

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    selector = selectors.DefaultSelector()
    selector.register(cmd, selectors.EVENT_READ, "cmd")
    selector.register(wake_r, selectors.EVENT_READ, "wake")
    server_fds = [cmd_fd, announce.fileno(), wake_r, wake_w]
    jit_pending = False
    jit_after = 0.0

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = jobs.pop(pid, None)
            if conn is not None:
                selector.unregister(conn)
                try:
                    conn.send_bytes(b"X" + struct.pack("q", os.waitstatus_to_exitcode(status)))
                except OSError:
                    pass
                conn.close()

    while True:
        wait_s = min(1.0, max(0.0, jit_after - time.monotonic())) if jit_pending else 1.0
        for key, _ in selector.select(timeout=wait_s):
            if key.data == "wake":
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
            elif key.data == "cmd":
                try:
                    data, fds, _flags, _addr = socket.recv_fds(cmd, 1, 4)
                except OSError:
                    data, fds = b"", []
                if not data:
                    finish()
                jit_after = time.monotonic() + JIT_IDLE_S  # let the caller's first jobs in first
                if data == b"W":
                    jit_pending = True
                elif data == b"J" and len(fds) == 2:
                    ctl = Connection(fds[0])
                    try:
                        payload = ctl.recv_bytes()
                        withdrawn = ctl.poll(0)  # the parent sends nothing before the pid: this is EOF
                    except (EOFError, OSError):
                        withdrawn = True
                    if withdrawn:
                        ctl.close()
                        os.close(fds[1])
                        continue
                    others = [c.fileno() for c in jobs.values()]
                    pid = os.fork()
                    if pid == 0:
                        _child_after_fork(selector, server_fds + others + [fds[0]], prctl, payload, fds[1])
                    os.close(fds[1])
                    try:
                        os.setpgid(pid, pid)
                    except OSError:
                        pass
                    jobs[pid] = ctl
                    selector.register(ctl, selectors.EVENT_READ, pid)
                    try:
                        ctl.send_bytes(b"P" + struct.pack("q", pid))
                    except OSError:
                        pass
                else:
                    for fd in fds:
                        os.close(fd)
            else:  # a parent's command for one job
                pid = key.data
                conn = jobs.get(pid)
                if conn is None:
                    continue
                try:
                    order = conn.recv_bytes(16)
                except (EOFError, OSError):
                    order = b"K"  # the parent stopped watching: never leave an orphan running
                    selector.unregister(conn)
                    jobs.pop(pid, None)
                    conn.close()
                sig = signal.SIGKILL if order == b"K" else signal.SIGTERM
                try:
                    os.killpg(pid, sig)
                except OSError:
                    pass
        reap()
        if jit_pending and time.monotonic() >= jit_after and not selector.select(timeout=0):
            # Idle: warm the JIT now. Jobs that arrive meanwhile wait for it to finish.
            jit_pending = False
            t1 = time.monotonic()
            _warm_jit()
            gc.freeze()
            print(f"JIT warm-up took {time.monotonic() - t1:.1f} s", flush=True)
            try:
                announce.send_bytes(pickle.dumps({"event": "jit", "seconds": time.monotonic() - t1}))
            except OSError:
                finish()


def _preload(modules: list[str]) -> list[str]:
    """Import the preload modules and run their ``warm_sandbox()``; return what failed."""
    import importlib

    failed = []
    for name in modules:
        t0 = time.monotonic()
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a missing optional module must not stop the server
            failed.append(f"{name}: {exc}")
            continue
        t1 = time.monotonic()
        warm = getattr(module, "warm_sandbox", None)
        if callable(warm):
            try:
                warm()
            except Exception as exc:  # noqa: BLE001
                failed.append(f"{name}.warm_sandbox: {exc}")
        print(f"preload {name}: import {t1 - t0:.2f} s, warm {time.monotonic() - t1:.2f} s", flush=True)
    t0 = time.monotonic()
    try:  # load llvmlite's library now: a ctypes load after the audit hook would be refused
        import numba

        numba.njit(lambda x: x + 1)(1)
    except Exception as exc:  # noqa: BLE001
        failed.append(f"numba: {exc}")
    print(f"preload numba JIT: {time.monotonic() - t0:.2f} s", flush=True)
    sys.stdout.flush()
    return failed


def _warm_jit() -> None:
    """Compile a tiny model with nutpie so Numba's compiler is warm in every forked job."""
    try:
        import numpy as np
        import nutpie
        import pymc as pm

        x = np.linspace(-1, 1, 8)
        with pm.Model(coords={"obs": np.arange(8), "k": [0, 1]}) as model:
            t = pm.Data("t", (x > 0).astype(float), dims="obs")
            beta = pm.Normal("beta", 0, 1, dims="k")
            sigma = pm.HalfNormal("sigma", 1)
            mu = pm.Deterministic("mu", beta[0] + beta[1] * t + pm.math.dot(np.c_[x, x**2], beta), dims="obs")
            pm.Normal("y", mu, sigma, observed=x, dims="obs")
        nutpie.compile_pymc_model(model, backend="numba")
    except Exception:  # noqa: BLE001 - warm-up is an optimisation; log and carry on
        tb_module.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()


def _libc_prctl() -> Callable[..., int] | None:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# --------------------------------------------------------------------------- child process


def _child_after_fork(
    selector: selectors.BaseSelector, close_fds: list[int], prctl: Callable[..., int] | None, payload: bytes, msg_fd: int
) -> None:
    """In the freshly forked child: drop the server's state, then run the job; never returns."""
    code = 70
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        selector.close()
        for fd in close_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        os.setpgid(0, 0)
        if prctl is not None:
            prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the server
        conn = Connection(msg_fd, readable=False)
        code = _run_job(payload, conn)
    except BaseException:  # noqa: BLE001 - the child must never return into the server loop
        try:
            tb_module.print_exc()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


class _ProgressSender:
    """The ``progress`` callable a job receives: sends small dicts to the parent."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def __call__(self, message: Any) -> None:
        if isinstance(message, Mapping):
            message = dict(message)
        elif not (dataclasses.is_dataclass(message) and not isinstance(message, type)):
            raise TypeError(f"progress() takes a dict of plain values or a dataclass, not {type(message).__name__}")
        data = pickle.dumps(("progress", message), protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > MAX_PROGRESS_BYTES:
            raise ValueError(f"a progress message may be at most {MAX_PROGRESS_BYTES} bytes, this one is {len(data)}")
        with self._lock:
            self._conn.send_bytes(data)


def _run_job(payload: bytes, conn: Connection) -> int:
    header, job_blob = pickle.loads(payload)  # from our own parent, through the server
    workdir = header["workdir"]
    os.chdir(workdir)
    log_fd = os.open(os.path.join(workdir, LOG_NAME), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    import faulthandler

    faulthandler.enable(file=sys.stderr)
    # On SIGTERM (timeout, cancel) dump every thread's stack to the log, then die as usual:
    # the caller learns where an endless loop was.
    faulthandler.register(signal.SIGTERM, file=sys.stderr, all_threads=True, chain=True)
    sys.path[:] = header["sys_path"]
    sys.dont_write_bytecode = True
    _apply_limits(header)

    def send(kind: str, body: Any) -> None:
        conn.send_bytes(pickle.dumps((kind, body), protocol=pickle.HIGHEST_PROTOCOL))

    try:
        fn, args, kwargs = pickle.loads(job_blob)
    except BaseException as exc:  # noqa: BLE001
        send("error", _error_info(exc, where="loading the job "))
        return 0
    if header["audit"]:
        install_audit_hook(workdir)
    send("started", {"pid": os.getpid()})
    try:
        value = fn(*args, **kwargs, progress=_ProgressSender(conn))
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are reported too
        send("error", _error_info(exc))
        return 0
    try:
        data = pickle.dumps(("result", value), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001
        send("error", _error_info(exc, where="pickling the result "))
        return 0
    if len(data) > MAX_RESULT_BYTES:
        error = ValueError(
            f"the result is {len(data) / 2**20:.1f} MiB, over the {MAX_RESULT_BYTES // 2**20} MiB limit; "
            "write it to a file in the work folder and return the path"
        )
        send("error", _error_info(error, where="returning the result "))
        return 0
    conn.send_bytes(data)
    return 0


def _error_info(exc: BaseException, where: str = "") -> dict[str, Any]:
    text = "".join(tb_module.format_exception(exc))
    lines = text.splitlines()
    if len(lines) > 60:
        lines = lines[:10] + ["  …"] + lines[-48:]
    return {
        "type": type(exc).__name__,
        "message": str(exc)[:4000],
        "traceback": "\n".join(lines)[:16000],
        "memory": isinstance(exc, MemoryError),
        "where": where,
    }


def _apply_limits(header: Mapping[str, Any]) -> None:
    import resource

    vm_mb = 0.0
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmSize:"):
                    vm_mb = int(line.split()[1]) / 1024
    except OSError:
        pass
    address_space = int((vm_mb + header["memory_mb"] + ADDRESS_SPACE_SLACK_MB) * 2**20)
    for limit, value in (
        (resource.RLIMIT_AS, address_space),
        (resource.RLIMIT_FSIZE, int(header["max_file_mb"]) * 2**20),
        (resource.RLIMIT_CORE, 0),
    ):
        _soft, hard = resource.getrlimit(limit)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(limit, (value, value))
    if header["nice"]:
        os.nice(header["nice"])


# --------------------------------------------------------------------------- audit hook

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_BLOCKED_ALWAYS = frozenset(
    {
        "socket.__new__",
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.kill",
        "os.killpg",
        "signal.pthread_kill",
        "os.symlink",
        "os.link",
        "ctypes.dlopen",
        "pty.spawn",
    }
)
_PATH_WRITE_EVENTS = {  # event -> indices of the path arguments it writes
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.rename": (0, 1),
    "os.truncate": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.utime": (0,),
    "os.mkfifo": (0,),
    "os.mknod": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "shutil.rmtree": (0,),
    "shutil.chown": (0,),
}
_DANGEROUS_SYMBOLS = frozenset(
    {"system", "popen", "fork", "vfork", "execv", "execve", "execvp", "execl", "execlp", "posix_spawn", "kill", "open", "openat", "fopen", "socket", "connect", "dlopen"}
)
HIDDEN_FILE_NAMES = frozenset({"truth.json"})
"""Files no job may open, in any mode: the ground truth of semi-synthetic problems."""


class SandboxViolation(PermissionError):
    """Raised in the child when the audit hook refuses an action (a PermissionError, so
    libraries that tolerate an unwritable cache keep working)."""


def allowed_write_roots(workdir: str) -> tuple[str, ...]:
    """Folders a job may write to: its work folder, the temp dir and the compiler caches."""
    roots = [workdir, tempfile.gettempdir(), "/dev/null"]
    cache = os.environ.get("NUMBA_CACHE_DIR")
    if cache:
        roots.append(cache)
    try:
        import pytensor

        roots.append(str(pytensor.config.base_compiledir))
        roots.append(str(pytensor.config.compiledir))
    except Exception:  # noqa: BLE001 - PyTensor is optional for generic jobs
        pass
    return tuple(dict.fromkeys(os.path.realpath(r) for r in roots))


def install_audit_hook(workdir: str) -> None:
    """Install the sandbox's audit hook in this process (irreversible; children only).

    Parameters
    ----------
    workdir
        The job's work folder: writes are allowed there, in the temp dir and in the
        PyTensor and Numba caches, nowhere else.
    """
    roots = allowed_write_roots(workdir)
    realpath, basename, fsdecode = os.path.realpath, os.path.basename, os.fsdecode
    sep = os.sep
    own_proc = f"/proc/{os.getpid()}"
    blocked_always, path_events, hidden = _BLOCKED_ALWAYS, _PATH_WRITE_EVENTS, HIDDEN_FILE_NAMES
    write_flags, dangerous = _WRITE_FLAGS, _DANGEROUS_SYMBOLS
    violation = SandboxViolation
    watched = blocked_always | set(path_events) | {"open", "ctypes.dlsym", "sqlite3.connect"}

    def resolve(path: Any) -> str | None:
        if isinstance(path, int):
            return None  # an already open descriptor
        try:
            return realpath(fsdecode(path))
        except (TypeError, ValueError):
            return None

    def writable(real: str) -> bool:
        return any(real == root or real.startswith(root + sep) for root in roots)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in watched:
            return
        if event == "open":
            path, _mode, flags = args
            real = resolve(path)
            if real is None:
                return
            if basename(real) in hidden or (not isinstance(path, int) and basename(fsdecode(path)) in hidden):
                raise violation(f"sandbox: {basename(real)} holds the ground truth and may not be opened")
            if real.startswith("/proc/") and real[6:7].isdigit() and not (real == own_proc or real.startswith(own_proc + "/")):
                raise violation("sandbox: reading other processes is not allowed")
            if isinstance(flags, int) and flags & write_flags and not writable(real):
                raise violation(f"sandbox: writing outside the work folder is not allowed: {real}")
            return
        if event in blocked_always:
            raise violation(f"sandbox: {event} is not allowed in model code")
        if event == "ctypes.dlsym":
            name = args[1] if len(args) > 1 else None
            if isinstance(name, str) and name in dangerous:
                raise violation(f"sandbox: ctypes access to {name} is not allowed")
            return
        if event == "sqlite3.connect":
            database = args[0] if args else None
            if database not in (":memory:", b":memory:", ""):
                raise violation("sandbox: opening database files is not allowed")
            return
        for index in path_events[event]:
            real = resolve(args[index]) if len(args) > index else None
            if real is not None and (not writable(real) or basename(real) in hidden):
                raise violation(f"sandbox: {event} outside the work folder is not allowed: {real}")

    sys.addaudithook(hook)
