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
from engine.sandbox.observe import _read_tail
from engine.sandbox.outcome import ServerStatus, _CancelLike
from engine.sandbox.protocol import CMD_JIT, CMD_JOB, frame
from engine.sandbox.settings import _POLL_S, _SECRET_MARKERS, PRELOAD_MODULES


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
            code = "from engine.sandbox.zygote import _server_main; _server_main()"
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
