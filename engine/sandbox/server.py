"""The parent's handle on the warm server: start it, stop it, hand it jobs, report its state.

One server per parent process (:func:`_get_server`), started lazily as a ``python -c``
subprocess in its own session with a cleaned environment (:func:`_server_environ`) and its
output in its own log; what runs inside it is :mod:`engine.sandbox.zygote`. The server exits
when its command socket closes, so it never outlives the parent.
"""

from __future__ import annotations

import atexit
import os
import pickle
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from engine.errors import SandboxError
from engine.sandbox.cache import TRUSTED_CACHE_VARIABLE, trusted_cache_dir
from engine.sandbox.isolation import ENGINE_ROOT, bwrap_command, bwrap_executable, sandbox_env, spawn_environment
from engine.sandbox.observe import _read_tail
from engine.sandbox.outcome import ServerStatus, _CancelLike
from engine.sandbox.protocol import CMD_JIT, CMD_JOB, frame
from engine.sandbox.settings import _POLL_S, _SECRET_MARKERS, PRELOAD_MODULES, THREAD_ENV


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
        self._jobs: Path | None = None
        self._bwrap: str | None = None
        self._pid_ns: str | None = None
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
            self._jobs = _make_jobs_root(Path(self._dir))
            self._bwrap = bwrap_executable()
            self._pid_ns = None
            log_path = os.path.join(self._dir, "server.log")
            parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            root = str(ENGINE_ROOT.parent)
            env = _server_environ(os.environ, root)
            trusted = trusted_cache_dir()
            # PyTensor needs a compile folder at import; the server's caching is off (engine.sandbox.cache), so
            # inside the namespaces it is the trusted cache's, read-only, where nothing is written.
            private_compiledir = (
                str(trusted / "pytensor") if self._bwrap else os.path.join(self._dir, "pytensor-server")
            )
            env["PYTENSOR_FLAGS"] = _with_flag(env["PYTENSOR_FLAGS"], "base_compiledir", private_compiledir)
            env[TRUSTED_CACHE_VARIABLE] = str(trusted)
            code = "from engine.sandbox.zygote import _server_main; _server_main()"
            args = [sys.executable, "-c", code, str(child_end.fileno()), ",".join(self._preload), str(self._jobs)]
            if self._bwrap is not None:
                readable = [str(trusted), *(str(p) for p in _EXPOSED)]
                args = bwrap_command(self._bwrap, args, sandbox_env(env), writable=[str(self._jobs)], readable=readable)
                env = spawn_environment()  # bwrap's own environment shows through /proc/1/environ
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
                raise SandboxError(
                    f"cannot start the sandbox server ({exc}); check that {sys.executable} runs"
                ) from exc
            finally:
                child_end.close()
            self._cmd = parent_end
            self._ready = threading.Event()
            self._jit_done = threading.Event()
            self._dead = threading.Event()
            self._jit_requested = False
            self._info = {"log_path": log_path}
            threading.Thread(
                target=self._watch,
                args=(parent_end, self._ready, self._jit_done, self._dead),
                name="sandbox-server-watch",
                daemon=True,
            ).start()

    @property
    def namespaced(self) -> bool:
        """True when the running server is inside bubblewrap's namespaces."""
        return self._bwrap is not None

    def new_job_dir(self) -> Path:
        """A fresh, randomly named folder for one job inside the jobs root (the job's only writable place)."""
        if self._jobs is None:
            raise SandboxError("the sandbox server is not running")
        path = self._jobs / secrets.token_hex(16)
        path.mkdir(mode=0o700)
        return path

    def host_pid(self, pid: int) -> int | None:
        """The host's pid of a job whose pid in the sandbox's namespace is ``pid``."""
        if self._bwrap is None:
            return pid
        proc = self._proc
        if proc is None:
            return None
        if self._pid_ns is None:
            self._pid_ns = _child_pid_namespace(proc.pid)
            if self._pid_ns is None:
                return None
        return _find_in_namespace(self._pid_ns, pid)

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
            self._send(CMD_JIT, [])

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
            self._jobs = None

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
            self._send(CMD_JOB, [ctl_server.fileno(), msg_w])
        except OSError as exc:
            ctl_parent.close()
            os.close(msg_r)
            raise SandboxError(f"cannot reach the sandbox server: {exc}") from exc
        finally:
            ctl_server.close()
            os.close(msg_w)
        # Written as Connection.send_bytes would, so the server reads it with recv_bytes.
        unsent = memoryview(frame(payload))
        ctl_parent.settimeout(_POLL_S)
        try:
            while unsent:
                try:
                    unsent = unsent[ctl_parent.send(unsent[: 1 << 20]) :]
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
            namespaced=running and self._bwrap is not None,
            failed_preload=tuple(str(f) for f in self._info.get("failed_preload", ())),
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
    """The server's environment: no secrets, engine importable, PyTensor without a C compiler,
    one OpenMP thread per task (:data:`THREAD_ENV`)."""
    env = {k: v for k, v in environ.items() if not any(marker in k.upper() for marker in _SECRET_MARKERS)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    flags = env.get("PYTENSOR_FLAGS", "")
    env["PYTENSOR_FLAGS"] = f"{flags},cxx=" if flags else "cxx="
    if "NUMBA_CACHE_DIR" not in env:
        cache_home = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        env["NUMBA_CACHE_DIR"] = os.path.join(cache_home, "causal-workbench", "numba")
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    for name, value in THREAD_ENV.items():
        env.setdefault(name, value)
    return env


_EXPOSED: list[Path] = []


def expose(*paths: str | os.PathLike[str]) -> None:
    """Make more host folders readable inside the sandbox (tests' job modules); applies at the next start.

    Parameters
    ----------
    *paths
        Host folders, resolved; each is added once.
    """
    for path in paths:
        resolved = Path(path).resolve()
        if resolved not in _EXPOSED:
            _EXPOSED.append(resolved)


def _make_jobs_root(server_dir: Path) -> Path:
    """The folder the jobs' own folders live in: traversable, not listable, so a job cannot find another's.

    As root the folder belongs to ``nobody``, so a job (root without capabilities inside the
    namespace) can neither list it nor change its mode; as another user it is ``-wx`` for the
    owner only.
    """
    jobs = server_dir / "jobs"
    jobs.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(jobs, 65534, 65534)
        os.chmod(jobs, 0o711)
    else:
        os.chmod(jobs, 0o311)
    return jobs


def _with_flag(flags: str, name: str, value: str) -> str:
    kept = [f for f in flags.split(",") if f and not f.startswith(name + "=")]
    return ",".join([*kept, f"{name}={value}"])


def _child_pid_namespace(bwrap_pid: int) -> str | None:
    """The PID namespace bwrap created: that of its child (the namespace's init)."""
    try:
        with open(f"/proc/{bwrap_pid}/task/{bwrap_pid}/children") as fh:
            children = [int(p) for p in fh.read().split()]
    except OSError:
        children = [p for p in _all_pids() if _ppid(p) == bwrap_pid]
    for child in children:
        try:
            return os.readlink(f"/proc/{child}/ns/pid")
        except OSError:
            continue
    return None


def _all_pids() -> list[int]:
    return [int(e.name) for e in os.scandir("/proc") if e.name.isdigit()]


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return int(fh.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _find_in_namespace(namespace: str, pid: int) -> int | None:
    """Scan /proc for the process whose innermost pid in ``namespace`` is ``pid``."""
    for host in _all_pids():
        try:
            if os.readlink(f"/proc/{host}/ns/pid") != namespace:
                continue
            with open(f"/proc/{host}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"NSpid:"):
                        if int(line.split()[-1]) == pid:
                            return host
                        break
        except (OSError, ValueError):
            continue
    return None
